import { describe, expect, it } from "vitest";
import { decodeArgs, encodeArgs } from "./outbox.js";

describe("outbox argument encoding", () => {
  it("round-trips bigints, nested values and strings", () => {
    const args = [1n, { a: [2n, "x"], b: null }, "0xabc", 2n ** 200n, true];
    const json = encodeArgs(args);
    expect(json).toBe(
      '[{"$bigint":"1"},{"a":[{"$bigint":"2"},"x"],"b":null},"0xabc",{"$bigint":"' +
        (2n ** 200n).toString() +
        '"},true]',
    );
    expect(decodeArgs(json)).toEqual(args);
  });

  it("leaves objects that only look tagged alone", () => {
    expect(decodeArgs('[{"$bigint":5},{"$bigint":"1","x":1}]')).toEqual([
      { $bigint: 5 },
      { $bigint: "1", x: 1 },
    ]);
  });

  it("rejects stored arguments that are not an array", () => {
    expect(() => decodeArgs('{"a":1}')).toThrowErrorMatchingInlineSnapshot(
      `[CarechainError: outbox arguments are not an array]`,
    );
  });
});
