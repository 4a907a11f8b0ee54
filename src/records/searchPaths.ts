/**
 * Where each supported search parameter reads its values in each resource type, after the R4
 * search parameter registry (https://hl7.org/fhir/R4/searchparameter-registry.html). Paths are
 * dotted element names; `x[x]` stands for a choice element. `date` lists alternatives in order
 * and the first one present is used (Condition: onset, else recordedDate); the other parameters
 * take every path. Deviations from R4: `code` reads Immunization.vaccineCode and the
 * medication[x] of the medication resources; `status` is absent where R4 has no `status` element.
 */
import type { SupportedType } from "./fhirTypes.js";

export interface ParamPaths {
  patient?: string[];
  code?: string[];
  category?: string[];
  date?: string[];
  status?: string[];
}

const S = ["status"];
const SUBJECT = ["subject"];
const PATIENT = ["patient"];

export const SEARCH_PATHS: Record<SupportedType, ParamPaths> = {
  Patient: {},
  Encounter: { patient: SUBJECT, date: ["period"], status: S },
  Condition: { patient: SUBJECT, code: ["code"], category: ["category"], date: ["onset[x]", "recordedDate"] },
  Observation: {
    patient: SUBJECT,
    code: ["code"],
    category: ["category"],
    date: ["effective[x]"],
    status: S,
  },
  DiagnosticReport: {
    patient: SUBJECT,
    code: ["code"],
    category: ["category"],
    date: ["effective[x]"],
    status: S,
  },
  MedicationRequest: {
    patient: SUBJECT,
    code: ["medicationCodeableConcept"],
    category: ["category"],
    date: ["authoredOn"],
    status: S,
  },
  MedicationStatement: {
    patient: SUBJECT,
    code: ["medicationCodeableConcept"],
    category: ["category"],
    date: ["effective[x]"],
    status: S,
  },
  MedicationAdministration: {
    patient: SUBJECT,
    code: ["medicationCodeableConcept"],
    date: ["effective[x]"],
    status: S,
  },
  Medication: { code: ["code"], status: S },
  AllergyIntolerance: { patient: PATIENT, code: ["code"], category: ["category"], date: ["recordedDate"] },
  Immunization: { patient: PATIENT, code: ["vaccineCode"], date: ["occurrence[x]"], status: S },
  Procedure: { patient: SUBJECT, code: ["code"], category: ["category"], date: ["performed[x]"], status: S },
  CarePlan: { patient: SUBJECT, category: ["category"], date: ["period"], status: S },
  CareTeam: { patient: SUBJECT, category: ["category"], date: ["period"], status: S },
  Goal: { patient: SUBJECT, category: ["category"], date: ["start[x]"] },
  DocumentReference: { patient: SUBJECT, category: ["category"], date: ["date"], status: S },
  Device: { patient: PATIENT, status: S },
  ImagingStudy: { patient: SUBJECT, date: ["started"], status: S },
  Claim: { patient: PATIENT, date: ["created"], status: S },
  ExplanationOfBenefit: { patient: PATIENT, date: ["created"], status: S },
  Coverage: { patient: ["beneficiary"], status: S },
  Provenance: { patient: ["target"], date: ["recorded"] },
  Organization: {},
  Practitioner: {},
  PractitionerRole: {},
  Location: { status: S },
  SupplyDelivery: { patient: PATIENT, date: ["occurrence[x]"], status: S },
  Consent: { patient: PATIENT, category: ["category"], date: ["dateTime"], status: S },
  AuditEvent: { patient: ["entity.what"], date: ["recorded"] },
  ServiceRequest: {
    patient: SUBJECT,
    code: ["code"],
    category: ["category"],
    date: ["authoredOn"],
    status: S,
  },
  QuestionnaireResponse: { patient: SUBJECT, date: ["authored"], status: S },
};
