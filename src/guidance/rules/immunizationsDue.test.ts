import { describe, expect, it } from "vitest";
import { clinicalFacts } from "../clinicalFacts.js";
import { immunization, patient, yearsAgo } from "../../../test/support/guidanceFacts.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import { immunizationsDue, seasonStart } from "./immunizationsDue.js";

const due = (now: Date, resources: FhirResource[]) =>
  Object.fromEntries(immunizationsDue(clinicalFacts(resources), now).map((g) => [g.id, g.indicator]));

describe("adult immunizations due (CDC 2025 schedule)", () => {
  it("a season runs from August 1 to July 31", () => {
    expect(seasonStart(new Date("2026-07-31T23:00:00Z")).toISOString().slice(0, 10)).toBe("2025-08-01");
    expect(seasonStart(new Date("2026-08-01T00:00:00Z")).toISOString().slice(0, 10)).toBe("2026-08-01");
  });

  it("influenza: due without a dose this season; last season's dose does not count", () => {
    const now = new Date("2026-10-15T00:00:00Z");
    expect(due(now, [patient(now, 30)])["immunization:influenza"]).toBe("info");
    expect(due(now, [patient(now, 30), immunization("140", "2026-07-31")])["immunization:influenza"]).toBe(
      "info",
    );
    expect(
      due(now, [patient(now, 30), immunization("140", "2026-08-01")])["immunization:influenza"],
    ).toBeUndefined();
    expect(due(now, [patient(now, 17)])["immunization:influenza"]).toBeUndefined();
  });

  it("Td/Tdap: overdue after 10 years, due with none recorded", () => {
    const now = new Date("2026-06-15T00:00:00Z");
    expect(due(now, [patient(now, 40)])["immunization:tetanus"]).toBe("info");
    expect(
      due(now, [patient(now, 40), immunization("115", yearsAgo(now, 10, -1))])["immunization:tetanus"],
    ).toBeUndefined();
    expect(
      due(now, [patient(now, 40), immunization("115", yearsAgo(now, 10, 0))])["immunization:tetanus"],
    ).toBe("warning");
    expect(
      due(now, [patient(now, 40), immunization("113", yearsAgo(now, 10, 1))])["immunization:tetanus"],
    ).toBe("warning");
  });

  it("pneumococcal: from 50; a childhood dose does not count", () => {
    const now = new Date("2026-06-15T00:00:00Z");
    expect(due(now, [patient(now, 49)])["immunization:pneumococcal"]).toBeUndefined();
    expect(due(now, [patient(now, 50)])["immunization:pneumococcal"]).toBe("info");
    expect(due(now, [patient(now, 51)])["immunization:pneumococcal"]).toBe("info");
    expect(
      due(now, [patient(now, 60), immunization("133", yearsAgo(now, 43))])["immunization:pneumococcal"],
    ).toBe("info");
    expect(
      due(now, [patient(now, 60), immunization("216", yearsAgo(now, 1))])["immunization:pneumococcal"],
    ).toBeUndefined();
  });

  it("zoster: 2 doses from 50, the second no sooner than 8 weeks after the first", () => {
    const now = new Date("2026-06-15T00:00:00Z");
    const weeksAgo = (w: number) => new Date(now.getTime() - w * 7 * 86400_000).toISOString().slice(0, 10);
    expect(due(now, [patient(now, 49)])["immunization:zoster"]).toBeUndefined();
    expect(due(now, [patient(now, 50)])["immunization:zoster"]).toBe("info");
    expect(
      due(now, [patient(now, 60), immunization("187", weeksAgo(7))])["immunization:zoster"],
    ).toBeUndefined();
    expect(due(now, [patient(now, 60), immunization("187", weeksAgo(8))])["immunization:zoster"]).toBe(
      "info",
    );
    expect(due(now, [patient(now, 60), immunization("187", weeksAgo(9))])["immunization:zoster"]).toBe(
      "info",
    );
    expect(
      due(now, [patient(now, 60), immunization("187", weeksAgo(30)), immunization("187", weeksAgo(20))])[
        "immunization:zoster"
      ],
    ).toBeUndefined();
  });

  it("the same dose recorded at two organizations is one dose", () => {
    const now = new Date("2026-10-15T00:00:00Z");
    const facts = clinicalFacts([
      patient(now, 30),
      immunization("140", "2026-09-01", "urn:carechain:organization:0xaa"),
      immunization("140", "2026-09-01", "urn:carechain:organization:0xbb"),
    ]);
    expect(facts.immunizations).toHaveLength(1);
    expect(facts.immunizations[0]?.sources).toHaveLength(2);
  });
});
