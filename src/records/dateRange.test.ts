import { describe, expect, it } from "vitest";
import { dateRange, periodRange } from "./dateRange.js";

const ms = (iso: string) => Date.parse(iso);

describe("dateRange", () => {
  it.each([
    ["2020", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"],
    ["2020-02", "2020-02-01T00:00:00Z", "2020-03-01T00:00:00Z"],
    ["2020-12", "2020-12-01T00:00:00Z", "2021-01-01T00:00:00Z"],
    ["2020-02-29", "2020-02-29T00:00:00Z", "2020-03-01T00:00:00Z"],
    ["2020-03-01T10:00", "2020-03-01T10:00:00Z", "2020-03-01T10:01:00Z"],
    ["2020-03-01T10:00:05+01:00", "2020-03-01T09:00:05Z", "2020-03-01T09:00:06Z"],
    ["2020-03-01T10:00:05.25-05:00", "2020-03-01T15:00:05.250Z", "2020-03-01T15:00:05.260Z"],
    ["2020-03-01T10:00:05 01:00", "2020-03-01T09:00:05Z", "2020-03-01T09:00:06Z"],
  ])("%s covers its precision", (value, start, end) => {
    expect(dateRange(value)).toEqual({ start: ms(start), end: ms(end) });
  });

  it.each(["2021-02-29", "2020-13", "20", "2020-01-01T25:00", "2020-1-1", "yesterday"])(
    "rejects %s",
    (value) => {
      expect(dateRange(value)).toBeUndefined();
    },
  );

  it("keeps years below 100", () => {
    expect(new Date(dateRange("0042")?.start ?? 0).getUTCFullYear()).toBe(42);
  });

  it("reads a Period with open ends", () => {
    expect(periodRange({ start: "2020" })).toEqual({ start: ms("2020-01-01T00:00:00Z"), end: Infinity });
    expect(periodRange({ end: "2020-01-01" })).toEqual({ start: -Infinity, end: ms("2020-01-02T00:00:00Z") });
    expect(periodRange({})).toBeUndefined();
  });
});
