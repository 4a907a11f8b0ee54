import { describe, expect, it } from "vitest";
import { clinicalFacts } from "../clinicalFacts.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import { earlyWarning } from "./earlyWarning.js";

const score = (value: number, date = "2026-06-01T10:00:00Z"): FhirResource => ({
  resourceType: "Observation",
  id: `news-${value}-${date}`,
  status: "final",
  code: { coding: [{ system: "http://snomed.info/sct", code: "1104051000000101", display: "NEWS2 score" }] },
  effectiveDateTime: date,
  valueQuantity: { value, unit: "{score}" },
});

describe("early warning (NEWS2 bands)", () => {
  it("no card below 5, urgent response at 5-6, emergency from 7", () => {
    const band = (v: number) => earlyWarning(clinicalFacts([score(v)])).map((g) => g.indicator);
    expect(band(4)).toEqual([]);
    expect(band(5)).toEqual(["warning"]);
    expect(band(6)).toEqual(["warning"]);
    expect(band(7)).toEqual(["critical"]);
    expect(band(8)).toEqual(["critical"]);
  });

  it("reads the newest score only", () => {
    const cards = earlyWarning(
      clinicalFacts([score(8, "2026-06-01T10:00:00Z"), score(2, "2026-06-01T11:00:00Z")]),
    );
    expect(cards).toEqual([]);
  });
});

describe("guidance for a patient who died", () => {
  it("gives none", async () => {
    const { patientGuidance } = await import("../guidance.js");
    const alive = { resourceType: "Patient", id: "p", birthDate: "1950-01-01", gender: "male" };
    expect(patientGuidance(clinicalFacts([alive, score(8)]), new Date("2026-06-15")).length).toBeGreaterThan(
      0,
    );
    const dead = { ...alive, deceasedDateTime: "2025-01-01T00:00:00Z" };
    expect(patientGuidance(clinicalFacts([dead, score(8)]), new Date("2026-06-15"))).toEqual([]);
  });
});
