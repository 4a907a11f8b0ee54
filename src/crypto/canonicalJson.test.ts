import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import { canonicalJson, contentHash } from "./canonicalJson.js";

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe("canonicalJson (RFC 8785)", () => {
  it("serializes the example of section 3.2.2", () => {
    const input = JSON.parse(
      String.raw`{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
      }`,
    ) as unknown;
    expect(canonicalJson(input)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });

  it("sorts members by UTF-16 code units (section 3.2.3)", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    // Read the member order from the text: JS objects enumerate integer-like keys ("1") first.
    const names = [...canonicalJson(input).matchAll(/"([^"]*)":"[^"]*"/g)].map((m) =>
      JSON.parse(`"${m[1]}"`),
    );
    expect(names).toEqual(["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"]);
    // Code-unit order puts the surrogate pair (0xD83D...) before U+FB33, unlike code-point order.
    expect(canonicalJson({ "\ufb33": 1, "\ud83d\ude00": 2 })).toBe('{"\ud83d\ude00":2,"\ufb33":1}');
  });

  it.each([
    ["0000000000000000", "0"],
    ["8000000000000000", "0"],
    ["0000000000000001", "5e-324"],
    ["8000000000000001", "-5e-324"],
    ["7fefffffffffffff", "1.7976931348623157e+308"],
    ["ffefffffffffffff", "-1.7976931348623157e+308"],
    ["4340000000000000", "9007199254740992"],
    ["c340000000000000", "-9007199254740992"],
    ["4430000000000000", "295147905179352830000"],
    ["44b52d02c7e14af5", "9.999999999999997e+22"],
    ["44b52d02c7e14af6", "1e+23"],
    ["44b52d02c7e14af7", "1.0000000000000001e+23"],
    ["444b1ae4d6e2ef4e", "999999999999999700000"],
    ["444b1ae4d6e2ef4f", "999999999999999900000"],
    ["444b1ae4d6e2ef50", "1e+21"],
    ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
    ["3eb0c6f7a0b5ed8d", "0.000001"],
    ["41b3de4355555553", "333333333.3333332"],
    ["41b3de4355555554", "333333333.33333325"],
    ["41b3de4355555555", "333333333.3333333"],
    ["41b3de4355555556", "333333333.3333334"],
    ["41b3de4355555557", "333333333.33333343"],
    ["becbf647612f3696", "-0.0000033333333333333333"],
    ["43143ff3c1cb0959", "1424953923781206.2"],
  ])("serializes the IEEE 754 value %s as %s (appendix B)", (bits, expected) => {
    expect(canonicalJson([fromBits(bits)])).toBe(`[${expected}]`);
  });

  it("escapes control characters as lowercase \\u00xx and leaves other unicode raw", () => {
    expect(canonicalJson("\u0000\u001f\u007f\u00e9\u2028")).toBe('"\\u0000\\u001f\u007f\u00e9\u2028"');
    expect(canonicalJson("\b\t\n\f\r")).toBe(String.raw`"\b\t\n\f\r"`);
  });

  it.each([
    ["undefined", undefined, "$"],
    ["undefined member", { a: { b: undefined } }, "$.a.b"],
    ["undefined element", [1, undefined], "$[1]"],
    ["function", { f: () => 1 }, "$.f"],
    ["symbol", [Symbol("s")], "$[0]"],
    ["bigint", { n: 1n }, "$.n"],
    ["NaN", [Number.NaN], "$[0]"],
    ["Infinity", { x: Number.POSITIVE_INFINITY }, "$.x"],
    ["-Infinity", Number.NEGATIVE_INFINITY, "$"],
    ["Date", { d: new Date(0) }, "$.d"],
    ["Uint8Array", new Uint8Array(2), "$"],
    ["Map", new Map(), "$"],
    ["lone high surrogate", "a\ud800", "$"],
    ["lone low surrogate key", { "\udc00": 1 }, "$.\udc00"],
    // eslint-disable-next-line no-sparse-arrays -- a hole is exactly what is being rejected
    ["sparse array hole", [1, , 3], "$[1]"],
  ])("rejects %s with BaseError(invalid)", (_name, value, expression) => {
    let caught: unknown;
    try {
      canonicalJson(value);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BaseError);
    expect((caught as BaseError).kind).toBe("invalid");
    expect((caught as BaseError).expression).toBe(expression);
  });

  it("rejects cycles but accepts shared (acyclic) references", () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrowErrorMatchingInlineSnapshot(
      `[CarechainError: value is not canonical JSON: found a circular reference]`,
    );
  });

  it("accepts objects without a prototype", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.b = 1;
    bare.a = [true];
    expect(canonicalJson(bare)).toBe('{"a":[true],"b":1}');
  });

  it("agrees with the canonicalize package and round-trips through JSON.parse", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(text).toBe(canonicalize(value));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe("contentHash", () => {
  it("is the sha256 of the canonical UTF-8 bytes", () => {
    expect(contentHash({})).toBe("0x44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    // printf '{"a":2,"b":"\xe2\x82\xac"}' | sha256sum
    expect(contentHash({ b: "€", a: 2 })).toBe(
      "0xf949467707377c44f64c78bd2dc15e2a6417cc79e8a6b2fe68e72e3c8bc70b07",
    );
  });

  it("ignores member order and whitespace but not values", () => {
    const a = JSON.parse('{ "x": [1, 2], "y": { "q": null, "p": "s" } }') as unknown;
    const b = JSON.parse('{"y":{"p":"s","q":null},"x":[1,2]}') as unknown;
    expect(contentHash(a)).toBe(contentHash(b));
    expect(contentHash({ x: [2, 1] })).not.toBe(contentHash({ x: [1, 2] }));
  });
});
