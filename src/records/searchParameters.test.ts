import { describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import { parseSearch } from "./searchParameters.js";

const ms = (iso: string) => Date.parse(iso);

function errorOf(type: string, query: Record<string, string | string[]>): BaseError {
  try {
    parseSearch(type, query);
  } catch (e) {
    if (e instanceof BaseError) return e;
    throw e;
  }
  throw new Error("expected parseSearch to fail");
}

describe("parseSearch", () => {
  it("applies defaults", () => {
    expect(parseSearch("Observation", {})).toEqual({
      resourceType: "Observation",
      params: [],
      count: 50,
      offset: 0,
      total: "none",
      sort: [],
      include: [],
      revinclude: [],
    });
  });

  it("parses patient and subject as Patient references, bare ids too", () => {
    const q = parseSearch("Observation", {
      patient: "Patient/p1,p2",
      "subject:Patient": "http://x.org/fhir/Patient/p3",
    });
    expect(q.params).toEqual([
      { name: "patient", kind: "reference", values: ["Patient/p1", "Patient/p2"] },
      { name: "patient", kind: "reference", values: ["Patient/p3"] },
    ]);
    expect(errorOf("Observation", { subject: "Group/g" }).message).toBe(
      "search parameter 'subject' supports only Patient references",
    );
  });

  it("parses the four token forms, OR by comma and escapes", () => {
    const q = parseSearch("Observation", {
      code: "http://loinc.org|8867-4,8480-6,|abc,http://loinc.org|,a\\,b",
    });
    expect(q.params[0]).toEqual({
      name: "code",
      kind: "token",
      values: [
        { match: "system-code", system: "http://loinc.org", code: "8867-4" },
        { match: "code", code: "8480-6" },
        { match: "no-system", code: "abc" },
        { match: "system", system: "http://loinc.org" },
        { match: "code", code: "a,b" },
      ],
    });
  });

  it("parses dates with prefixes and precision; repeated = AND", () => {
    const q = parseSearch("Observation", { date: ["ge2020", "lt2020-03-01T10:00:00Z"] });
    expect(q.params).toEqual([
      {
        name: "date",
        kind: "date",
        values: [{ prefix: "ge", start: ms("2020-01-01T00:00:00Z"), end: ms("2021-01-01T00:00:00Z") }],
      },
      {
        name: "date",
        kind: "date",
        values: [{ prefix: "lt", start: ms("2020-03-01T10:00:00Z"), end: ms("2020-03-01T10:00:01Z") }],
      },
    ]);
  });

  it("widens ap by 10% of the distance to now", () => {
    const now = ms("2030-01-01T00:00:00Z");
    const q = parseSearch("Observation", { date: "ap2020-01-01" }, { now });
    const slack = (now - ms("2020-01-01T00:00:00Z")) * 0.1;
    expect(q.params[0]).toEqual({
      name: "date",
      kind: "date",
      values: [
        { prefix: "ap", start: ms("2020-01-01T00:00:00Z") - slack, end: ms("2020-01-02T00:00:00Z") + slack },
      ],
    });
  });

  it("parses paging, total, sort, includes, _id, _lastUpdated, status and :missing", () => {
    const q = parseSearch("Observation", {
      _count: "10",
      _offset: "20",
      _total: "accurate",
      _sort: "-date,_lastUpdated",
      _include: "Observation:subject:Patient",
      "_revinclude:iterate": "Provenance:target",
      _id: "a,b",
      _lastUpdated: "gt2024-01",
      status: "final",
      "category:missing": "true",
      _format: "json",
    });
    expect(q).toMatchObject({
      count: 10,
      offset: 20,
      total: "accurate",
      sort: [
        { param: "date", descending: true },
        { param: "_lastUpdated", descending: false },
      ],
      include: [{ source: "Observation", param: "subject", target: "Patient", iterate: false }],
      revinclude: [{ source: "Provenance", param: "target", iterate: true }],
    });
    expect(q.params.map((p) => [p.name, p.kind])).toEqual([
      ["_id", "token"],
      ["_lastUpdated", "date"],
      ["status", "token"],
      ["category", "missing"],
    ]);
    expect(parseSearch("Observation", { _cursor: "abc_123" }).cursor).toBe("abc_123");
  });

  it.each<[string, string, Record<string, string | string[]>, string]>([
    ["unknown parameter", "Observation", { xyz: "1" }, "unknown search parameter 'xyz' for Observation"],
    ["parameter the type lacks", "Patient", { code: "1" }, "unknown search parameter 'code' for Patient"],
    ["unsupported type", "Spaceship", {}, "search is not supported for this resource type"],
    [
      "exact on a token",
      "Observation",
      { "code:exact": "1" },
      "modifier ':exact' is not supported for search parameter 'code'",
    ],
    [
      "not modifier",
      "Observation",
      { "status:not": "final" },
      "modifier ':not' is not supported for search parameter 'status'",
    ],
    ["_sort by code", "Observation", { _sort: "code" }, "unsupported _sort for Observation"],
    ["_sort by date without dates", "Organization", { _sort: "date" }, "unsupported _sort for Organization"],
  ])("rejects %s as not-supported", (_name, type, query, message) => {
    const e = errorOf(type, query);
    expect(e.kind).toBe("invalid");
    expect(e.code).toBe("not-supported");
    expect(e.message).toBe(message);
  });

  it.each<[string, Record<string, string | string[]>, string]>([
    ["_count 0", { _count: "0" }, "_count"],
    ["_count 1001", { _count: "1001" }, "_count"],
    ["_count repeated", { _count: ["1", "2"] }, "_count"],
    ["bad date", { date: "ge2020-13" }, "date"],
    ["bad prefix", { date: "xx2020" }, "date"],
    ["bad total", { _total: "all" }, "_total"],
    ["empty value", { code: "" }, "code"],
    ["bad token", { code: "a|b|c" }, "code"],
    ["bad _id", { _id: "has space" }, "_id"],
    ["bad missing", { "code:missing": "maybe" }, "code"],
    ["bad include", { _include: "Observation" }, "_include"],
    ["offset and cursor", { _offset: "5", _cursor: "abc" }, "_offset"],
  ])("rejects %s without echoing the value", (_name, query, param) => {
    const e = errorOf("Observation", query);
    expect(e.kind).toBe("invalid");
    expect(e.message).toContain(param);
    for (const v of Object.values(query).flat()) if (v.length > 2) expect(e.message).not.toContain(v);
  });
});
