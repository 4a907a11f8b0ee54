import { describe, expect, it } from "vitest";
import { dateRange } from "./dateRange.js";
import {
  beyondIndex,
  birthdateInputs,
  birthdateQueryInputs,
  MAX_PREFIX,
  nameQueryInput,
  namePrefixInputs,
  normalizeText,
} from "./searchBlinded.js";
import { BIRTHDATE_PREFIXES } from "./searchCatalog.js";
import { dateMatches, extractIndex, matches } from "./searchIndex.js";
import { parseSearch } from "./searchParameters.js";

describe("name normalization and prefixes", () => {
  it("folds case, accents and spaces as FHIR string search does", () => {
    expect(normalizeText("  José   MARÍA ")).toBe("jose maria");
    expect(normalizeText("Ångström-Øre")).toBe("angstrom-øre");
    expect(normalizeText("ＭＵＬＬＥＲ")).toBe("muller");
  });

  it("indexes every prefix up to MAX_PREFIX characters, and a longer query looks up the longest", () => {
    expect(namePrefixInputs("family", "ann")).toEqual(["name:family:a", "name:family:an", "name:family:ann"]);
    const long = "abcdefghijklmnopqrstuvwxyz";
    expect(namePrefixInputs("given", long)).toHaveLength(MAX_PREFIX);
    expect(nameQueryInput("given", long)).toBe(namePrefixInputs("given", long).at(-1));
    expect(beyondIndex(long)).toBe(true);
    expect(beyondIndex(long.slice(0, MAX_PREFIX))).toBe(false);
  });

  it("matches a Patient in memory by the prefix of any name part", () => {
    const patient = {
      resourceType: "Patient",
      id: "p",
      name: [{ family: "Müller", given: ["José"], prefix: ["Dr."] }],
    };
    const q = (query: Record<string, string>) => matches(parseSearch("Patient", query), patient);
    expect(q({ name: "MUL" })).toBe(true);
    expect(q({ name: "jo" })).toBe(true);
    expect(q({ name: "dr" })).toBe(true);
    expect(q({ family: "jo" })).toBe(false);
    expect(q({ given: "müller" })).toBe(false);
    expect(q({ name: "uller" })).toBe(false);
    expect(extractIndex(patient).filter((r) => r.param === "name")).toHaveLength(3);
  });
});

describe("birthdate units", () => {
  /** Deterministic pseudo-random numbers. */
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pad = (x: number) => String(x).padStart(2, "0");
  const date = (): string => {
    const y = 1890 + rand(150);
    const precision = rand(4);
    if (precision === 0) return String(y);
    if (precision === 1) return `${y}-${pad(1 + rand(12))}`;
    return `${y}-${pad(1 + rand(12))}-${pad(1 + rand(28))}`;
  };

  it("stores a day as its day, month and year; a month as month and year; a year alone", () => {
    expect(birthdateInputs("1970-03-05")).toEqual(["bd:d:1970-03-05", "bd:dm:1970-03", "bd:dy:1970"]);
    expect(birthdateInputs("1970-03")).toEqual(["bd:m:1970-03", "bd:my:1970"]);
    expect(birthdateInputs("1970")).toEqual(["bd:y:1970"]);
    expect(birthdateInputs("1700-01-01")).toEqual([]);
    expect(birthdateInputs("1970-02-30")).toEqual([]);
  });

  it("finds a stored date exactly when the prefix semantics match it, for every prefix served", () => {
    const now = Date.parse("2026-12-07T00:00:00Z");
    for (let i = 0; i < 150; i++) {
      const prefix = BIRTHDATE_PREFIXES[rand(BIRTHDATE_PREFIXES.length)] ?? "eq";
      const [value] = parseSearch("Patient", { birthdate: `${prefix}${date()}` }, { now }).params;
      if (value?.kind !== "date") throw new Error("expected a date parameter");
      const query = new Set(birthdateQueryInputs(value.values[0]!, dateMatches));
      for (let j = 0; j < 20; j++) {
        const stored = date();
        const expected = dateMatches(value.values[0]!, dateRange(stored)!);
        const found = birthdateInputs(stored).some((u) => query.has(u));
        expect([prefix, stored, found]).toEqual([prefix, stored, expected]);
      }
    }
  });

  it("turns a range into whole years and months where it can", () => {
    const [value] = parseSearch("Patient", { birthdate: "lt1950-06-15" }).params;
    if (value?.kind !== "date") throw new Error("expected a date parameter");
    const inputs = birthdateQueryInputs(value.values[0]!, dateMatches);
    expect(inputs).toContain("bd:dy:1900");
    expect(inputs).toContain("bd:dm:1950-05");
    expect(inputs).toContain("bd:d:1950-06-14");
    expect(inputs).not.toContain("bd:d:1950-06-15");
    expect(inputs.length).toBeLessThan(3 * 160);
  });
});
