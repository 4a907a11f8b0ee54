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
      revinclude: [],
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
    [
      "_sort by code",
      "Observation",
      { _sort: "code" },
      "_sort by this key is not supported for Observation: use _lastUpdated, _id, date",
    ],
    [
      "_sort by date without dates",
      "Organization",
      { _sort: "date" },
      "_sort by this key is not supported for Organization: use _lastUpdated, _id",
    ],
    [
      "_include:iterate",
      "Patient",
      { "_include:iterate": "Patient:organization" },
      "_include:iterate is not supported: only the direct _include is served",
    ],
    [
      "_revinclude:iterate",
      "Patient",
      { "_revinclude:iterate": "Observation:patient" },
      "_revinclude:iterate is not supported: only the direct _revinclude is served",
    ],
    [
      "_revinclude not served",
      "Observation",
      { _revinclude: "Provenance:target" },
      "this _revinclude is not supported for Observation: the CapabilityStatement lists those served",
    ],
    [
      "_include not served",
      "Observation",
      { _include: "Observation:specimen" },
      "this _include is not supported for Observation: the CapabilityStatement lists those served",
    ],
    [
      "_summary=text",
      "Patient",
      { _summary: "text" },
      "_summary=text is not supported: use true, count, data or false",
    ],
    ["_contained", "Patient", { _contained: "true" }, "search parameter '_contained' is not supported"],
    ["_has", "Patient", { "_has:Observation:patient:code": "1234" }, "malformed search parameter '_has'"],
    [
      "exact on a name",
      "Patient",
      { "name:exact": "Smith" },
      "modifier ':exact' is not supported for search parameter 'name'",
    ],
    [
      "contains on family",
      "Patient",
      { "family:contains": "mit" },
      "modifier ':contains' is not supported for search parameter 'family'",
    ],
    [
      "birthdate prefix sa",
      "Patient",
      { birthdate: "sa1970" },
      "prefix 'sa' is not supported for search parameter 'birthdate'",
    ],
    [
      "birthdate prefix ne",
      "Patient",
      { birthdate: "ne1970" },
      "prefix 'ne' is not supported for search parameter 'birthdate'",
    ],
  ])("rejects %s as not-supported", (_name, type, query, message) => {
    const e = errorOf(type, query);
    expect(e.kind).toBe("invalid");
    expect(e.code).toBe("not-supported");
    expect(e.message).toBe(message);
  });

  it("parses the Patient parameters, normalizing names (case, accents, spaces)", () => {
    const q = parseSearch("Patient", {
      name: "  JOSÉ  María ",
      family: "Müller,o'brien",
      given: "ÅSA",
      identifier: ["http://hospital.example/mrn|123", "456", "http://hospital.example/mrn|"],
      gender: "female",
      birthdate: ["ge1970-01-01", "lt1980"],
      _revinclude: ["Observation:patient", "Condition:subject"],
      _include: "Patient:organization",
      _summary: "data",
      _elements: "name,birthDate",
      _sort: "-birthdate,family",
    });
    expect(q.params).toEqual([
      { name: "name", kind: "string", values: ["jose maria"] },
      { name: "family", kind: "string", values: ["muller", "o'brien"] },
      { name: "given", kind: "string", values: ["asa"] },
      {
        name: "identifier",
        kind: "token",
        values: [{ match: "system-code", system: "http://hospital.example/mrn", code: "123" }],
      },
      { name: "identifier", kind: "token", values: [{ match: "code", code: "456" }] },
      {
        name: "identifier",
        kind: "token",
        values: [{ match: "system", system: "http://hospital.example/mrn" }],
      },
      { name: "gender", kind: "token", values: [{ match: "code", code: "female" }] },
      {
        name: "birthdate",
        kind: "date",
        values: [{ prefix: "ge", start: ms("1970-01-01"), end: ms("1970-01-02") }],
      },
      {
        name: "birthdate",
        kind: "date",
        values: [{ prefix: "lt", start: ms("1980-01-01"), end: ms("1981-01-01") }],
      },
    ]);
    expect(q.revinclude.map((r) => `${r.source}:${r.param}`)).toEqual([
      "Observation:patient",
      "Condition:subject",
    ]);
    expect(q.include).toEqual([
      { source: "Patient", param: "organization", target: "Organization", iterate: false },
    ]);
    expect(q.summary).toBe("data");
    expect(q.elements).toEqual(["name", "birthDate"]);
    expect(q.sort).toEqual([
      { param: "birthdate", descending: true },
      { param: "family", descending: false },
    ]);
  });

  it("under lenient handling leaves out what it does not serve and lists it, but still refuses bad values", () => {
    const q = parseSearch(
      "Patient",
      {
        name: "ann",
        colour: "blue",
        "family:exact": "X",
        birthdate: "sa1970",
        _contained: "true",
        _summary: "text",
      },
      { lenient: true },
    );
    expect(q.params).toEqual([{ name: "name", kind: "string", values: ["ann"] }]);
    expect(q.summary).toBeUndefined();
    expect(q.ignored).toEqual([
      "unknown search parameter 'colour' for Patient",
      "modifier ':exact' is not supported for search parameter 'family'",
      "prefix 'sa' is not supported for search parameter 'birthdate'",
      "search parameter '_contained' is not supported",
      "_summary=text is not supported: use true, count, data or false",
    ]);
    expect(() => parseSearch("Patient", { birthdate: "1970-13" }, { lenient: true })).toThrow(
      "invalid value for search parameter 'birthdate'",
    );
  });

  it.each<[string, Record<string, string | string[]>, string]>([
    ["_count negative", { _count: "-1" }, "_count"],
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
