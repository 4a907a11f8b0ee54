import { describe, expect, it } from "vitest";
import { clinicalFacts } from "../clinicalFacts.js";
import { observation, ORG_A, patient, procedure, yearsAgo } from "../../../test/support/guidanceFacts.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import { preventiveCareGaps } from "./preventiveCare.js";

const NOW = new Date("2026-06-15T12:00:00Z");
const gaps = (resources: FhirResource[]) =>
  preventiveCareGaps(clinicalFacts(resources), NOW).map((g) => g.id);

/** Evidence for every screening but the one under test, so only it can be due. */
function upToDate(except: string): FhirResource[] {
  const recent = yearsAgo(NOW, 0, 30);
  const all: Record<string, FhirResource[]> = {
    bp: [observation("55284-4", recent)],
    lipids: [observation("18262-6", recent, 100, "mg/dL")],
    diabetes: [observation("4548-4", recent, 5.2, "%")],
    colorectal: [procedure("73761001", recent)],
    breast: [procedure("71651007", recent)],
    cervical: [procedure("90226004", recent)],
  };
  return Object.entries(all)
    .filter(([k]) => k !== except)
    .flatMap(([, v]) => v);
}

describe("preventive-care gaps (USPSTF A/B)", () => {
  it("runs no screening rule without the Patient's age (demographics not shared)", () => {
    expect(gaps([observation("39156-5", "2026-01-01", 30, "kg/m2")])).toEqual([]);
  });

  it("blood pressure: every 3 years at 39, annual from 40 (at, below and above the age and the interval)", () => {
    const at = (age: number, lastYearsAgo: number, extraDays: number) =>
      gaps([
        patient(NOW, age, "male"),
        ...upToDate("bp"),
        observation("55284-4", yearsAgo(NOW, lastYearsAgo, extraDays)),
      ]);
    expect(at(39, 1, 10)).not.toContain("preventive:blood-pressure-40");
    expect(at(39, 1, 10)).not.toContain("preventive:blood-pressure-18");
    expect(at(39, 3, 0)).toContain("preventive:blood-pressure-18");
    expect(at(39, 3, -1)).not.toContain("preventive:blood-pressure-18");
    expect(at(40, 1, 0)).toContain("preventive:blood-pressure-40");
    expect(at(40, 1, -1)).not.toContain("preventive:blood-pressure-40");
    expect(at(41, 1, 1)).toContain("preventive:blood-pressure-40");
    expect(at(17, 10, 0)).toEqual([]);
  });

  it("lipids: ages 40-75, every 5 years", () => {
    const at = (age: number, lastYearsAgo?: number, extraDays = 0) =>
      gaps([
        patient(NOW, age, "male"),
        ...upToDate("lipids"),
        ...(lastYearsAgo === undefined
          ? []
          : [observation("18262-6", yearsAgo(NOW, lastYearsAgo, extraDays), 120, "mg/dL")]),
      ]);
    expect(at(39)).not.toContain("preventive:lipids");
    expect(at(40)).toContain("preventive:lipids");
    expect(at(75)).toContain("preventive:lipids");
    expect(at(76)).not.toContain("preventive:lipids");
    expect(at(50, 5, -1)).not.toContain("preventive:lipids");
    expect(at(50, 5, 0)).toContain("preventive:lipids");
    expect(at(50, 5, 1)).toContain("preventive:lipids");
  });

  it("diabetes: 35-70 with BMI ≥ 25 only, every 3 years", () => {
    const at = (age: number, bmi: number | undefined, lastYearsAgo?: number, extraDays = 0) =>
      gaps([
        patient(NOW, age, "male"),
        ...upToDate("diabetes"),
        ...(bmi === undefined ? [] : [observation("39156-5", "2026-05-01", bmi, "kg/m2")]),
        ...(lastYearsAgo === undefined
          ? []
          : [observation("4548-4", yearsAgo(NOW, lastYearsAgo, extraDays), 5.4, "%")]),
      ]);
    expect(at(50, 24.9)).not.toContain("preventive:diabetes");
    expect(at(50, 25)).toContain("preventive:diabetes");
    expect(at(50, 25.1)).toContain("preventive:diabetes");
    expect(at(50, undefined)).not.toContain("preventive:diabetes");
    expect(at(34, 30)).not.toContain("preventive:diabetes");
    expect(at(35, 30)).toContain("preventive:diabetes");
    expect(at(70, 30)).toContain("preventive:diabetes");
    expect(at(71, 30)).not.toContain("preventive:diabetes");
    expect(at(50, 30, 3, -1)).not.toContain("preventive:diabetes");
    expect(at(50, 30, 3, 0)).toContain("preventive:diabetes");
  });

  it("colorectal: 45-75; a colonoscopy counts 10 years, a FIT one year", () => {
    const at = (age: number, evidence: FhirResource[] = []) =>
      gaps([patient(NOW, age, "female"), ...upToDate("colorectal"), ...evidence]);
    expect(at(44)).not.toContain("preventive:colorectal");
    expect(at(45)).toContain("preventive:colorectal");
    expect(at(75)).toContain("preventive:colorectal");
    expect(at(76)).not.toContain("preventive:colorectal");
    expect(at(60, [procedure("73761001", yearsAgo(NOW, 10, -1))])).not.toContain("preventive:colorectal");
    expect(at(60, [procedure("73761001", yearsAgo(NOW, 10, 0))])).toContain("preventive:colorectal");
    expect(at(60, [observation("57905-2", yearsAgo(NOW, 1, -1))])).not.toContain("preventive:colorectal");
    expect(at(60, [observation("57905-2", yearsAgo(NOW, 1, 1))])).toContain("preventive:colorectal");
  });

  it("breast: women 40-74, every 2 years; never for men", () => {
    const at = (age: number, gender: "female" | "male", lastYearsAgo?: number, extraDays = 0) =>
      gaps([
        patient(NOW, age, gender),
        ...upToDate("breast"),
        ...(lastYearsAgo === undefined
          ? []
          : [procedure("71651007", yearsAgo(NOW, lastYearsAgo, extraDays))]),
      ]);
    expect(at(39, "female")).not.toContain("preventive:breast");
    expect(at(40, "female")).toContain("preventive:breast");
    expect(at(74, "female")).toContain("preventive:breast");
    expect(at(75, "female")).not.toContain("preventive:breast");
    expect(at(50, "male")).not.toContain("preventive:breast");
    expect(at(50, "female", 2, -1)).not.toContain("preventive:breast");
    expect(at(50, "female", 2, 0)).toContain("preventive:breast");
  });

  it("cervical: 21-65; cytology 3 years; HPV testing counts 5 years only from 30", () => {
    const at = (age: number, evidence: FhirResource[] = []) =>
      gaps([patient(NOW, age, "female"), ...upToDate("cervical"), ...evidence]);
    expect(at(20)).not.toContain("preventive:cervical");
    expect(at(21)).toContain("preventive:cervical");
    expect(at(65)).toContain("preventive:cervical");
    expect(at(66)).not.toContain("preventive:cervical");
    expect(at(40, [procedure("90226004", yearsAgo(NOW, 3, -1))])).not.toContain("preventive:cervical");
    expect(at(40, [procedure("90226004", yearsAgo(NOW, 3, 0))])).toContain("preventive:cervical");
    expect(at(40, [observation("21440-3", yearsAgo(NOW, 4))])).not.toContain("preventive:cervical");
    expect(at(40, [observation("21440-3", yearsAgo(NOW, 5, 1))])).toContain("preventive:cervical");
    // an HPV test taken at 29 does not count (the patient is 33 now, the test 4 years ago)
    expect(at(33, [observation("21440-3", yearsAgo(NOW, 4, 1))])).toContain("preventive:cervical");
  });

  it("says what it was drawn from and where, in plain words for the patient", () => {
    const [card] = preventiveCareGaps(
      clinicalFacts([
        patient(NOW, 50, "male"),
        ...upToDate("lipids"),
        observation("18262-6", yearsAgo(NOW, 6), 120, "mg/dL"),
      ]),
      NOW,
    );
    expect(card?.id).toBe("preventive:lipids");
    expect(card?.summary).toMatch(/^Lipid panel .*: due \(last cholesterol \d{4}-\d{2}-\d{2}\)$/);
    expect(card?.source.publisher).toBe("USPSTF");
    expect(card?.basedOn).toHaveLength(2);
    expect(card?.sources).toEqual([ORG_A]);
    expect(card?.patientText).toMatch(/ask your doctor/);
  });
});
