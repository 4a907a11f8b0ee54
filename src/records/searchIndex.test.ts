import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FhirResource } from "./fhirTypes.js";
import { DATE_PREFIXES } from "./searchParameters.js";
import type { DatePrefix } from "./searchParameters.js";
import { dateMatches, extractIndex, matches, patientOf } from "./searchIndex.js";
import { parseSearch } from "./searchParameters.js";

const ms = (iso: string) => Date.parse(iso);
const obs: FhirResource = {
  resourceType: "Observation",
  id: "o1",
  meta: { lastUpdated: "2024-05-01T12:00:00Z" },
  status: "final",
  category: [
    {
      coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs" }],
    },
  ],
  code: { coding: [{ system: "http://loinc.org", code: "8867-4" }, { code: "hr" }] },
  subject: { reference: "Patient/p1" },
  effectiveDateTime: "2020-03-01T10:00:00Z",
};

describe("extractIndex", () => {
  it("lists the values of every supported parameter", () => {
    expect(extractIndex(obs)).toEqual([
      { param: "_id", code: "o1" },
      { param: "_lastUpdated", start: ms("2024-05-01T12:00:00Z"), end: ms("2024-05-01T12:00:01Z") },
      { param: "patient", reference: "Patient/p1" },
      { param: "code", system: "http://loinc.org", code: "8867-4" },
      { param: "code", code: "hr" },
      {
        param: "category",
        system: "http://terminology.hl7.org/CodeSystem/observation-category",
        code: "vital-signs",
      },
      { param: "status", code: "final" },
      { param: "date", start: ms("2020-03-01T10:00:00Z"), end: ms("2020-03-01T10:00:01Z") },
    ]);
  });

  it("reads Periods with open ends, and Condition onset before recordedDate", () => {
    const enc: FhirResource = {
      resourceType: "Encounter",
      status: "in-progress",
      period: { start: "2021-01-01" },
    };
    expect(extractIndex(enc).filter((r) => r.param === "date")).toEqual([
      { param: "date", start: ms("2021-01-01T00:00:00Z") },
    ]);
    const cond: FhirResource = {
      resourceType: "Condition",
      onsetDateTime: "2019",
      recordedDate: "2020-01-01",
    };
    expect(extractIndex(cond).filter((r) => r.param === "date")).toEqual([
      { param: "date", start: ms("2019-01-01T00:00:00Z"), end: ms("2020-01-01T00:00:00Z") },
    ]);
    const recorded: FhirResource = { resourceType: "Condition", recordedDate: "2020-01-01" };
    expect(extractIndex(recorded).find((r) => r.param === "date")?.start).toBe(ms("2020-01-01T00:00:00Z"));
  });

  it("indexes AllergyIntolerance category codes and Immunization vaccine codes", () => {
    const allergy: FhirResource = {
      resourceType: "AllergyIntolerance",
      category: ["food"],
      patient: { reference: "Patient/p" },
    };
    expect(extractIndex(allergy)).toContainEqual({ param: "category", code: "food" });
    const imm: FhirResource = {
      resourceType: "Immunization",
      vaccineCode: { coding: [{ system: "http://hl7.org/fhir/sid/cvx", code: "140" }] },
    };
    expect(extractIndex(imm)).toContainEqual({
      param: "code",
      system: "http://hl7.org/fhir/sid/cvx",
      code: "140",
    });
  });
});

describe("matches", () => {
  it.each<[Record<string, string | string[]>, boolean]>([
    [{ patient: "p1" }, true],
    [{ patient: "p2" }, false],
    [{ code: "http://loinc.org|8867-4" }, true],
    [{ code: "http://snomed.info/sct|8867-4" }, false],
    [{ code: "|hr" }, true],
    [{ code: "|8867-4" }, false],
    [{ code: "http://loinc.org|" }, true],
    [{ code: "x,8867-4" }, true],
    [{ category: "vital-signs", status: "final" }, true],
    [{ status: "amended" }, false],
    [{ date: "2020" }, true],
    [{ date: "2020-03-01" }, true],
    [{ date: "2020-03-02" }, false],
    [{ date: ["ge2020-01", "lt2020-04"] }, true],
    [{ date: ["ge2020-01", "lt2020-03"] }, false],
    [{ date: "sa2019" }, true],
    [{ date: "eb2020-03-01T10:00:00Z" }, false],
    [{ date: "ne2020" }, false],
    [{ _lastUpdated: "ge2024-05" }, true],
    [{ _id: "o1" }, true],
    [{ _id: "o2" }, false],
    [{ "code:missing": "false" }, true],
    [{ "category:missing": "true" }, false],
  ])("%j -> %s", (query, expected) => {
    expect(matches(parseSearch("Observation", query), obs)).toBe(expected);
  });

  it("never matches another resource type", () => {
    expect(matches(parseSearch("Condition", {}), obs)).toBe(false);
  });

  it("treats a missing end of a Period as open", () => {
    const enc: FhirResource = {
      resourceType: "Encounter",
      status: "in-progress",
      period: { start: "2021-01-01" },
    };
    expect(matches(parseSearch("Encounter", { date: "gt2030" }), enc)).toBe(true);
    expect(matches(parseSearch("Encounter", { date: "2021" }), enc)).toBe(false);
    expect(matches(parseSearch("Encounter", { date: "lt2021" }), enc)).toBe(false);
  });
});

/** Oracle: the R4 prefix definitions evaluated on sets of integer instants. */
function oracle(prefix: DatePrefix, s: number, e: number, rs: number, re: number): boolean {
  const target = Array.from({ length: re - rs }, (_, i) => rs + i);
  const eq = target.every((t) => t >= s && t < e);
  const above = target.some((t) => t >= e);
  const below = target.some((t) => t < s);
  switch (prefix) {
    case "eq":
      return eq;
    case "ne":
      return !eq;
    case "gt":
      return above;
    case "lt":
      return below;
    case "ge":
      return above || eq;
    case "le":
      return below || eq;
    case "sa":
      return target.every((t) => t >= e);
    case "eb":
      return target.every((t) => t < s);
    case "ap":
      return target.some((t) => t >= s && t < e);
  }
}

describe("date prefix semantics (property)", () => {
  const range = fc
    .tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 10 }))
    .map(([a, w]) => [a, a + w] as const);

  it("dateMatches agrees with the R4 definitions on every prefix", () => {
    fc.assert(
      fc.property(fc.constantFrom(...DATE_PREFIXES), range, range, (prefix, [s, e], [rs, re]) => {
        expect(dateMatches({ prefix, start: s, end: e }, { start: rs, end: re })).toBe(
          oracle(prefix, s, e, rs, re),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("ne is not eq, ge is gt or eq, sa implies gt, eb implies lt, for parsed dateTimes", () => {
    const instant = fc.date({
      min: new Date("1900-01-01"),
      max: new Date("2100-01-01"),
      noInvalidDate: true,
    });
    const precision = fc.constantFrom(4, 7, 10, 16, 19);
    fc.assert(
      fc.property(instant, precision, instant, (a, p, b) => {
        const value = a.toISOString().slice(0, p) + (p > 10 ? "Z" : "");
        const r: FhirResource = {
          resourceType: "Observation",
          effectiveDateTime: b.toISOString().replace(/\.\d+Z$/, "Z"),
        };
        const m = (prefix: string) => matches(parseSearch("Observation", { date: prefix + value }), r);
        expect(m("ne")).toBe(!m("eq"));
        expect(m("ge")).toBe(m("gt") || m("eq"));
        expect(m("le")).toBe(m("lt") || m("eq"));
        if (m("sa")) expect(m("gt")).toBe(true);
        if (m("eb")) expect(m("lt")).toBe(true);
        expect(m("eq") && m("ne")).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe("patientOf", () => {
  it("finds the patient of each kind of resource", () => {
    expect(patientOf({ resourceType: "Patient", id: "p" })).toBe("p");
    expect(patientOf(obs)).toBe("p1");
    expect(patientOf({ resourceType: "Immunization", patient: { reference: "Patient/p2" } })).toBe("p2");
    expect(
      patientOf({
        resourceType: "Coverage",
        beneficiary: { reference: "http://x/fhir/Patient/p3/_history/2" },
      }),
    ).toBe("p3");
    expect(patientOf({ resourceType: "Observation", subject: { reference: "Group/g" } })).toBeUndefined();
    expect(patientOf({ resourceType: "Organization", id: "o" })).toBeUndefined();
  });
});
