/**
 * Small FHIR resources for guidance tests: a patient of a given age and sex, observations,
 * procedures, immunizations, medications and allergies, each with an id and an organization source.
 */
import type { FhirResource } from "../../src/records/fhirTypes.js";

let next = 0;
const id = (): string => `r${++next}`;
export const ORG_A = `urn:carechain:organization:0x${"aa".repeat(32)}`;
export const ORG_B = `urn:carechain:org:0x${"bb".repeat(32)}`;

/** YYYY-MM-DD of `now` minus whole years (and extra days). */
export function yearsAgo(now: Date, years: number, extraDays = 0): string {
  const d = new Date(now);
  d.setUTCFullYear(d.getUTCFullYear() - years);
  d.setUTCDate(d.getUTCDate() - extraDays);
  return d.toISOString().slice(0, 10);
}

export function patient(now: Date, age: number, gender: "female" | "male" = "female"): FhirResource {
  return {
    resourceType: "Patient",
    id: id(),
    birthDate: yearsAgo(now, age),
    gender,
    meta: { source: ORG_A },
  };
}

export function observation(
  loinc: string,
  date: string,
  value?: number,
  unit?: string,
  source: string = ORG_A,
): FhirResource {
  return {
    resourceType: "Observation",
    id: id(),
    status: "final",
    code: { coding: [{ system: "http://loinc.org", code: loinc, display: `LOINC ${loinc}` }] },
    effectiveDateTime: date,
    ...(value !== undefined ? { valueQuantity: { value, unit } } : {}),
    meta: { source },
  };
}

export function procedure(snomed: string, date: string, source: string = ORG_A): FhirResource {
  return {
    resourceType: "Procedure",
    id: id(),
    status: "completed",
    code: { coding: [{ system: "http://snomed.info/sct", code: snomed, display: `SNOMED ${snomed}` }] },
    performedDateTime: date,
    meta: { source },
  };
}

export function immunization(cvx: string, date: string, source: string = ORG_A): FhirResource {
  return {
    resourceType: "Immunization",
    id: id(),
    status: "completed",
    vaccineCode: { coding: [{ system: "http://hl7.org/fhir/sid/cvx", code: cvx, display: `CVX ${cvx}` }] },
    occurrenceDateTime: date,
    meta: { source },
  };
}

export function medication(
  rxnorm: string,
  display: string,
  source: string = ORG_A,
  status = "active",
): FhirResource {
  return {
    resourceType: "MedicationRequest",
    id: id(),
    status,
    intent: "order",
    medicationCodeableConcept: {
      coding: [{ system: "http://www.nlm.nih.gov/research/umls/rxnorm", code: rxnorm, display }],
    },
    authoredOn: "2024-01-01",
    meta: { source },
  };
}

export function allergy(display: string, criticality = "low", source: string = ORG_A): FhirResource {
  return {
    resourceType: "AllergyIntolerance",
    id: id(),
    clinicalStatus: { coding: [{ code: "active" }] },
    category: ["medication"],
    criticality,
    code: { coding: [{ system: "http://snomed.info/sct", code: "91936005", display }] },
    meta: { source },
  };
}

export function condition(snomed: string, display: string, source: string = ORG_A): FhirResource {
  return {
    resourceType: "Condition",
    id: id(),
    clinicalStatus: { coding: [{ code: "active" }] },
    code: { coding: [{ system: "http://snomed.info/sct", code: snomed, display }] },
    onsetDateTime: "2020-05-01",
    meta: { source },
  };
}
