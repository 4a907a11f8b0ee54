import { describe, expect, it } from "vitest";
import { categoryMask } from "../model/vocabulary.js";
import { categorize, categoryMaskOf } from "./categorize.js";
import type { FhirResource } from "./fhirTypes.js";

const cc = (system: string, code: string) => ({ coding: [{ system, code }] });
const obsCat = (code: string) => [cc("http://terminology.hl7.org/CodeSystem/observation-category", code)];
const LOINC = "http://loinc.org";
const SNOMED = "http://snomed.info/sct";
const subject = { reference: "Patient/p" };

describe("categorize", () => {
  it.each<[string, FhirResource, string[]]>([
    ["Patient", { resourceType: "Patient" }, ["demographics"]],
    ["Condition", { resourceType: "Condition", subject, code: cc(SNOMED, "38341003") }, ["conditions"]],
    [
      "lab Observation",
      { resourceType: "Observation", category: obsCat("laboratory"), code: cc(LOINC, "2339-0") },
      ["labs"],
    ],
    [
      "vital Observation",
      { resourceType: "Observation", category: obsCat("vital-signs"), code: cc(LOINC, "8867-4") },
      ["vitals"],
    ],
    [
      "device Observation",
      { resourceType: "Observation", category: obsCat("vital-signs"), device: { reference: "Device/d" } },
      ["vitals", "device-readings"],
    ],
    ["uncategorized vital", { resourceType: "Observation", code: cc(LOINC, "8480-6") }, ["vitals"]],
    ["uncategorized other", { resourceType: "Observation", code: cc(LOINC, "2339-0") }, ["labs"]],
    [
      "smoking status survey",
      { resourceType: "Observation", category: obsCat("survey"), code: cc(LOINC, "72166-2") },
      ["conditions"],
    ],
    ["imaging Observation", { resourceType: "Observation", category: obsCat("imaging") }, ["imaging"]],
    [
      "PHQ-9 survey",
      { resourceType: "Observation", category: obsCat("survey"), code: cc(LOINC, "44261-6") },
      ["conditions", "mental-health"],
    ],
    [
      "AUDIT-C",
      { resourceType: "Observation", category: obsCat("survey"), code: cc(LOINC, "75626-2") },
      ["conditions", "substance-use"],
    ],
    [
      "drug screen",
      { resourceType: "Observation", category: obsCat("laboratory"), code: cc(LOINC, "3427-2") },
      ["labs", "substance-use"],
    ],
    [
      "lab report",
      {
        resourceType: "DiagnosticReport",
        category: [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB")],
      },
      ["labs"],
    ],
    [
      "radiology report",
      {
        resourceType: "DiagnosticReport",
        category: [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")],
      },
      ["imaging"],
    ],
    [
      "genetics report",
      {
        resourceType: "DiagnosticReport",
        category: [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "GE")],
      },
      ["labs", "genomics"],
    ],
    [
      "note report",
      { resourceType: "DiagnosticReport", category: [cc(LOINC, "34117-2")], code: cc(LOINC, "51847-2") },
      ["notes"],
    ],
    [
      "clinical note document",
      {
        resourceType: "DocumentReference",
        category: [
          cc("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "clinical-note"),
        ],
      },
      ["notes", "documents"],
    ],
    ["other document", { resourceType: "DocumentReference" }, ["documents"]],
    [
      "MedicationRequest",
      {
        resourceType: "MedicationRequest",
        medicationCodeableConcept: cc("http://www.nlm.nih.gov/research/umls/rxnorm", "313782"),
      },
      ["medications"],
    ],
    [
      "contraceptive",
      {
        resourceType: "MedicationRequest",
        medicationCodeableConcept: cc("http://www.nlm.nih.gov/research/umls/rxnorm", "748879"),
      },
      ["medications", "sexual-health"],
    ],
    ["Immunization", { resourceType: "Immunization" }, ["immunizations"]],
    ["AllergyIntolerance", { resourceType: "AllergyIntolerance" }, ["allergies"]],
    ["ImagingStudy", { resourceType: "ImagingStudy" }, ["imaging"]],
    ["Encounter", { resourceType: "Encounter" }, ["encounters"]],
    [
      "prenatal Encounter",
      { resourceType: "Encounter", type: [cc(SNOMED, "424619006")] },
      ["encounters", "sexual-health"],
    ],
    ["Procedure", { resourceType: "Procedure" }, ["procedures"]],
    ["CarePlan", { resourceType: "CarePlan" }, ["care-plans"]],
    ["Goal", { resourceType: "Goal" }, ["care-plans"]],
    [
      "EOB with a depression diagnosis",
      {
        resourceType: "ExplanationOfBenefit",
        diagnosis: [{ diagnosisCodeableConcept: cc(SNOMED, "370143000") }],
      },
      ["financial", "mental-health"],
    ],
    ["Device", { resourceType: "Device" }, ["device-readings"]],
    ["Organization", { resourceType: "Organization" }, ["demographics"]],
    ["Provenance", { resourceType: "Provenance" }, ["audit"]],
    [
      "HIV Condition",
      { resourceType: "Condition", code: cc(SNOMED, "86406008") },
      ["conditions", "sexual-health"],
    ],
    [
      "alcoholism",
      { resourceType: "Condition", code: cc(SNOMED, "7200002") },
      ["conditions", "substance-use"],
    ],
    [
      "ICD-10 F32",
      { resourceType: "Condition", code: cc("http://hl7.org/fhir/sid/icd-10-cm", "F32.9") },
      ["conditions", "mental-health"],
    ],
    [
      "ICD-10 F10",
      { resourceType: "Condition", code: cc("http://hl7.org/fhir/sid/icd-10-cm", "F10.20") },
      ["conditions", "substance-use"],
    ],
    [
      "ICD-10 O",
      { resourceType: "Condition", code: cc("http://hl7.org/fhir/sid/icd-10", "O24.4") },
      ["conditions", "sexual-health"],
    ],
    [
      "ICD-10 Z71.3 dietary counselling",
      { resourceType: "Condition", code: cc("http://hl7.org/fhir/sid/icd-10-cm", "Z71.3") },
      ["conditions"],
    ],
    [
      "ICD-10 Q90",
      { resourceType: "Condition", code: cc("http://hl7.org/fhir/sid/icd-10-cm", "Q90.9") },
      ["conditions", "genomics"],
    ],
    [
      "PSY label",
      {
        resourceType: "Procedure",
        meta: { security: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "PSY" }] },
      },
      ["procedures", "mental-health"],
    ],
    [
      "ETH label without system",
      { resourceType: "Observation", category: obsCat("laboratory"), meta: { security: [{ code: "ETH" }] } },
      ["labs", "substance-use"],
    ],
    [
      "HIV label",
      {
        resourceType: "Observation",
        category: obsCat("laboratory"),
        meta: { security: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "HIV" }] },
      },
      ["labs", "sexual-health"],
    ],
    [
      "GDIS label",
      {
        resourceType: "Observation",
        category: obsCat("laboratory"),
        meta: { security: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "GDIS" }] },
      },
      ["labs", "genomics"],
    ],
    [
      "label from another system ignored",
      { resourceType: "Procedure", meta: { security: [{ system: "http://example.org", code: "PSY" }] } },
      ["procedures"],
    ],
  ])("%s", (_name, resource, expected) => {
    expect(categorize(resource)).toEqual(expected);
  });

  it("does not chase references to sensitive resources", () => {
    const r: FhirResource = {
      resourceType: "MedicationRequest",
      reasonReference: [{ reference: "Condition/depression" }],
    };
    expect(categorize(r)).toEqual(["medications"]);
  });

  it("gives the mask of the categories", () => {
    const r: FhirResource = { resourceType: "Condition", code: cc(SNOMED, "86406008") };
    expect(categoryMaskOf(r)).toBe(categoryMask(["conditions", "sexual-health"]));
  });
});
