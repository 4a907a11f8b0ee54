import { describe, expect, it } from "vitest";
import { clinicalFacts } from "../clinicalFacts.js";
import { observation, patient, ORG_A, ORG_B } from "../../../test/support/guidanceFacts.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import { labResults } from "./labResults.js";

const NOW = new Date("2026-06-15T00:00:00Z");
const cards = (resources: FhirResource[]) =>
  Object.fromEntries(labResults(clinicalFacts(resources), NOW).map((g) => [g.id, g.indicator]));
const one = (loinc: string, value: number, unit: string, gender: "female" | "male" = "female") =>
  cards([patient(NOW, 50, gender), observation(loinc, "2026-06-01", value, unit)]);

describe("abnormal and worsening labs", () => {
  it("HbA1c: prediabetes from 5.7 %, diabetes range from 6.5 % (ADA)", () => {
    expect(one("4548-4", 5.6, "%")).toEqual({});
    expect(one("4548-4", 5.7, "%")).toEqual({ "lab:hba1c:in the prediabetes range (5.7-6.4 %)": "info" });
    expect(one("4548-4", 6.49, "%")).toEqual({ "lab:hba1c:in the prediabetes range (5.7-6.4 %)": "info" });
    expect(one("4548-4", 6.5, "%")).toEqual({ "lab:hba1c:in the diabetes range (≥ 6.5 %)": "warning" });
    // IFCC 48 mmol/mol is 6.5 % NGSP
    expect(Object.keys(one("4548-4", 48, "mmol/mol"))).toEqual(["lab:hba1c:in the diabetes range (≥ 6.5 %)"]);
  });

  it("gives no adult lab card for a child (17), and does from 18", () => {
    const at = (age: number) =>
      cards([patient(NOW, age, "male"), observation("718-7", "2026-06-01", 10, "g/dL")]);
    expect(at(17)).toEqual({});
    expect(at(18)).toEqual({ "lab:hemoglobin:anaemia (< 13.0 g/dL)": "warning" });
  });

  it("a unit the data cannot convert is left alone", () => {
    expect(one("4548-4", 9, "mg")).toEqual({});
    expect(one("6298-4", 7, "widgets")).toEqual({});
  });

  it("HbA1c trend: a rise of 0.5 points or more", () => {
    const series = (a: number, b: number) =>
      cards([
        patient(NOW, 50),
        observation("4548-4", "2025-06-01", a, "%"),
        observation("4548-4", "2026-06-01", b, "%"),
      ]);
    expect(series(5.0, 5.4)["lab:hba1c:trend"]).toBeUndefined();
    expect(series(5.0, 5.5)["lab:hba1c:trend"]).toBe("warning");
    expect(series(5.0, 5.6)["lab:hba1c:trend"]).toBe("warning");
    expect(series(5.6, 5.0)["lab:hba1c:trend"]).toBeUndefined();
  });

  it("eGFR: G3 below 60, G4-G5 below 30 (KDIGO), and a 25 % fall", () => {
    expect(one("33914-3", 60, "mL/min/{1.73_m2}")).toEqual({});
    expect(one("33914-3", 59.9, "mL/min/{1.73_m2}")).toEqual({ "lab:egfr:decreased (G3, 30-59)": "warning" });
    expect(one("33914-3", 30, "mL/min/{1.73_m2}")).toEqual({ "lab:egfr:decreased (G3, 30-59)": "warning" });
    expect(one("33914-3", 29.9, "mL/min/{1.73_m2}")).toEqual({
      "lab:egfr:severely decreased (G4-G5, < 30)": "critical",
    });
    const series = (a: number, b: number) =>
      cards([
        patient(NOW, 50),
        observation("33914-3", "2025-06-01", a, "mL/min/{1.73_m2}"),
        observation("33914-3", "2026-06-01", b, "mL/min/{1.73_m2}"),
      ]);
    expect(series(100, 76)["lab:egfr:trend"]).toBeUndefined();
    expect(series(100, 75)["lab:egfr:trend"]).toBe("warning");
    expect(series(100, 74)["lab:egfr:trend"]).toBe("warning");
  });

  it("LDL: 190 mg/dL and above (AHA/ACC 2018), also from mmol/L", () => {
    expect(one("18262-6", 189, "mg/dL")).toEqual({});
    expect(one("18262-6", 190, "mg/dL")).toEqual({
      "lab:ldl:severe hypercholesterolaemia (≥ 190 mg/dL)": "warning",
    });
    expect(one("18262-6", 191, "mg/dL")).toEqual({
      "lab:ldl:severe hypercholesterolaemia (≥ 190 mg/dL)": "warning",
    });
    expect(Object.keys(one("18262-6", 5.0, "mmol/L"))).toEqual([
      "lab:ldl:severe hypercholesterolaemia (≥ 190 mg/dL)",
    ]);
    expect(one("18262-6", 4.9, "mmol/L")).toEqual({});
  });

  it("potassium: hypo below 3.5 (severe below 2.5), hyper above 5.5 (severe from 6.5) (ERC 2021)", () => {
    const band = (v: number) => Object.entries(one("6298-4", v, "mmol/L"));
    expect(band(2.4)).toEqual([["lab:potassium:severe hypokalaemia (< 2.5 mmol/L)", "critical"]]);
    expect(band(2.5)).toEqual([["lab:potassium:hypokalaemia (< 3.5 mmol/L)", "warning"]]);
    expect(band(3.4)).toEqual([["lab:potassium:hypokalaemia (< 3.5 mmol/L)", "warning"]]);
    expect(band(3.5)).toEqual([]);
    expect(band(5.5)).toEqual([]);
    expect(band(5.6)).toEqual([["lab:potassium:hyperkalaemia (> 5.5 mmol/L)", "warning"]]);
    expect(band(6.4)).toEqual([["lab:potassium:hyperkalaemia (> 5.5 mmol/L)", "warning"]]);
    expect(band(6.5)).toEqual([["lab:potassium:severe hyperkalaemia (≥ 6.5 mmol/L)", "critical"]]);
  });

  it("haemoglobin: anaemia below 13 (men) or 12 (women), severe below 8 (WHO); a 2 g/dL fall", () => {
    expect(one("718-7", 13, "g/dL", "male")).toEqual({});
    expect(one("718-7", 12.9, "g/dL", "male")).toEqual({ "lab:hemoglobin:anaemia (< 13.0 g/dL)": "warning" });
    expect(one("718-7", 12, "g/dL", "female")).toEqual({});
    expect(one("718-7", 11.9, "g/dL", "female")).toEqual({
      "lab:hemoglobin:anaemia (< 12.0 g/dL)": "warning",
    });
    expect(one("718-7", 8, "g/dL", "female")).toEqual({ "lab:hemoglobin:anaemia (< 12.0 g/dL)": "warning" });
    expect(one("718-7", 7.9, "g/dL", "female")).toEqual({
      "lab:hemoglobin:severe anaemia (< 8.0 g/dL)": "critical",
    });
    expect(one("718-7", 79, "g/L", "female")).toEqual({
      "lab:hemoglobin:severe anaemia (< 8.0 g/dL)": "critical",
    });
    const series = (a: number, b: number) =>
      cards([
        patient(NOW, 50, "male"),
        observation("718-7", "2025-06-01", a, "g/dL"),
        observation("718-7", "2026-06-01", b, "g/dL"),
      ]);
    expect(series(15, 13.1)["lab:hemoglobin:trend"]).toBeUndefined();
    expect(series(15, 13)["lab:hemoglobin:trend"]).toBe("warning");
  });

  it("names both results' sources on a trend drawn from two organizations", () => {
    const [trend] = labResults(
      clinicalFacts([
        patient(NOW, 50),
        observation("4548-4", "2025-06-01", 5.0, "%", ORG_A),
        observation("4548-4", "2026-06-01", 5.6, "%", ORG_B),
      ]),
      NOW,
    ).filter((g) => g.id === "lab:hba1c:trend");
    expect(trend?.sources.sort()).toEqual([ORG_A, ORG_B].sort());
    expect(trend?.basedOn).toHaveLength(2);
  });
});
