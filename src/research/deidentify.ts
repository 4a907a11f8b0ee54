/**
 * De-identified study extracts after HIPAA Safe Harbor (45 CFR 164.514(b)(2)): each resource is
 * rebuilt from an allow-list of coded clinical elements, so none of the 18 identifiers can pass
 * (names, addresses below the state, dates more precise than the shifted ones, telecom, record and
 * account numbers, device ids, URLs, free text...). On top of that:
 * - ids and references are study pseudonyms: HMAC(study key, account or resource id), so two
 *   studies' extracts of the same patient cannot be linked;
 * - dates are shifted by a per-patient-and-study offset (-182..182 days, from the same HMAC), so
 *   intervals within a patient stay true;
 * - a patient older than 89 has no birth date, only the age group "90+";
 * - the ZIP code is cut to its first three digits, and to 000 where the three-digit area holds
 *   20,000 people or fewer (the 17 areas HHS lists from the 2000 census);
 * - free text (narrative, notes, strings, display names of references) is dropped; codings keep
 *   their system, code and display (a code's display is the code system's text, not the patient's).
 */
import { createHmac } from "node:crypto";
import type { Address } from "viem";
import type { FhirResource } from "../records/fhirTypes.js";

/** Three-digit ZIP areas of 20,000 people or fewer (HHS de-identification guidance, 2000 census). */
export const RESTRICTED_ZIP3 = new Set([
  "036",
  "059",
  "063",
  "102",
  "203",
  "556",
  "692",
  "790",
  "821",
  "823",
  "830",
  "831",
  "878",
  "879",
  "884",
  "890",
  "893",
]);

/** A study's secret for pseudonyms and date shifts (never released). */
export interface StudySecret {
  key: Uint8Array;
}

const hmac = (secret: StudySecret, label: string): Buffer =>
  createHmac("sha256", secret.key).update(label).digest();

/** The patient's pseudonym in this study. */
export function pseudonym(secret: StudySecret, account: Address): string {
  return `p-${hmac(secret, `patient|${account.toLowerCase()}`).toString("hex").slice(0, 20)}`;
}

/** The patient's date shift in this study, in days (-182..182). */
export function dateShiftDays(secret: StudySecret, account: Address): number {
  return (hmac(secret, `shift|${account.toLowerCase()}`).readUInt32BE(0) % 365) - 182;
}

const resourceId = (secret: StudySecret, r: FhirResource): string =>
  `r-${hmac(secret, `resource|${r.resourceType}/${String(r.id)}`)
    .toString("hex")
    .slice(0, 20)}`;

/** A FHIR date or dateTime shifted by `days`, kept at its precision (a year-only date stays a year). */
export function shiftDate(value: unknown, days: number): string | undefined {
  if (typeof value !== "string" || !/^\d{4}/.test(value)) return undefined;
  if (value.length === 4) return value;
  if (value.length === 7) return value; // year-month: no day to shift, keep the month
  const t = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(t)) return undefined;
  const shifted = new Date(t + days * 86_400_000).toISOString();
  return value.length === 10 ? shifted.slice(0, 10) : shifted.replace(".000Z", "Z");
}

type Json = Record<string, unknown>;

function coding(c: unknown): Json | undefined {
  if (typeof c !== "object" || c === null) return undefined;
  const { system, code, display } = c as Json;
  if (typeof code !== "string") return undefined;
  return {
    ...(typeof system === "string" ? { system } : {}),
    code,
    ...(typeof display === "string" ? { display } : {}),
  };
}

/** A CodeableConcept with its codings only (its `text` is free text and is dropped). */
function concept(cc: unknown): Json | undefined {
  if (typeof cc !== "object" || cc === null) return undefined;
  const codings =
    ((cc as Json).coding as unknown[] | undefined)?.map(coding).filter((c) => c !== undefined) ?? [];
  return codings.length > 0 ? { coding: codings } : undefined;
}

const concepts = (list: unknown): Json[] | undefined => {
  const out = Array.isArray(list) ? list.map(concept).filter((c) => c !== undefined) : [];
  return out.length > 0 ? out : undefined;
};

function quantity(q: unknown): Json | undefined {
  if (typeof q !== "object" || q === null) return undefined;
  const { value, unit, system, code, comparator } = q as Json;
  if (typeof value !== "number") return undefined;
  return {
    value,
    ...(typeof comparator === "string" ? { comparator } : {}),
    ...(typeof unit === "string" ? { unit } : {}),
    ...(typeof system === "string" ? { system } : {}),
    ...(typeof code === "string" ? { code } : {}),
  };
}

const period = (p: unknown, days: number): Json | undefined => {
  if (typeof p !== "object" || p === null) return undefined;
  const start = shiftDate((p as Json).start, days);
  const end = shiftDate((p as Json).end, days);
  return start || end ? { ...(start ? { start } : {}), ...(end ? { end } : {}) } : undefined;
};

/** Drops undefined members. */
const compact = (o: Json): Json => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export interface PatientContext {
  account: Address;
  /** The patient's age on the day of the release (from the real birth date). */
  age: number | undefined;
}

/**
 * One resource of a patient's record, de-identified for a study; undefined for a type no study
 * receives (directory, financial, documents, provenance...).
 * @param secret - The study's secret.
 * @param patient - Whose record it is.
 * @param r - The resource, as read under the patient's research consent.
 */
export function deidentify(
  secret: StudySecret,
  patient: PatientContext,
  r: FhirResource,
): FhirResource | undefined {
  const days = dateShiftDays(secret, patient.account);
  const subject = { reference: `Patient/${pseudonym(secret, patient.account)}` };
  const base = { resourceType: r.resourceType, id: resourceId(secret, r) };
  switch (r.resourceType) {
    case "Patient": {
      const address = Array.isArray(r.address) ? (r.address[0] as Json | undefined) : undefined;
      const zip =
        typeof address?.postalCode === "string"
          ? address.postalCode.replace(/\D/g, "").slice(0, 3)
          : undefined;
      const old = patient.age !== undefined && patient.age > 89;
      const birthYear = old ? undefined : shiftDate(r.birthDate, days)?.slice(0, 4);
      return compact({
        resourceType: "Patient",
        id: pseudonym(secret, patient.account),
        gender: typeof r.gender === "string" ? r.gender : undefined,
        birthDate: birthYear,
        extension: old ? [{ url: "urn:carechain:research:age-group", valueString: "90+" }] : undefined,
        address:
          zip !== undefined || typeof address?.state === "string"
            ? [
                compact({
                  state: typeof address?.state === "string" ? address.state : undefined,
                  postalCode:
                    zip === undefined || zip.length < 3 ? undefined : RESTRICTED_ZIP3.has(zip) ? "000" : zip,
                }),
              ]
            : undefined,
      }) as FhirResource;
    }
    case "Condition":
      return compact({
        ...base,
        clinicalStatus: concept(r.clinicalStatus),
        verificationStatus: concept(r.verificationStatus),
        category: concepts(r.category),
        code: concept(r.code),
        subject,
        onsetDateTime: shiftDate(r.onsetDateTime, days),
        abatementDateTime: shiftDate(r.abatementDateTime, days),
      }) as FhirResource;
    case "Observation":
      return compact({
        ...base,
        status: r.status,
        category: concepts(r.category),
        code: concept(r.code),
        subject,
        effectiveDateTime: shiftDate(r.effectiveDateTime, days),
        valueQuantity: quantity(r.valueQuantity),
        valueCodeableConcept: concept(r.valueCodeableConcept),
        interpretation: concepts(r.interpretation),
        component: Array.isArray(r.component)
          ? r.component.map((c: Json) =>
              compact({
                code: concept(c.code),
                valueQuantity: quantity(c.valueQuantity),
                valueCodeableConcept: concept(c.valueCodeableConcept),
              }),
            )
          : undefined,
      }) as FhirResource;
    case "MedicationRequest":
    case "MedicationStatement":
      return compact({
        ...base,
        status: r.status,
        intent: r.intent,
        medicationCodeableConcept: concept(r.medicationCodeableConcept),
        subject,
        authoredOn: shiftDate(r.authoredOn, days),
        effectiveDateTime: shiftDate(r.effectiveDateTime, days),
      }) as FhirResource;
    case "Immunization":
      return compact({
        ...base,
        status: r.status,
        vaccineCode: concept(r.vaccineCode),
        patient: subject,
        occurrenceDateTime: shiftDate(r.occurrenceDateTime, days),
      }) as FhirResource;
    case "Procedure":
      return compact({
        ...base,
        status: r.status,
        code: concept(r.code),
        subject,
        performedDateTime: shiftDate(r.performedDateTime, days),
        performedPeriod: period(r.performedPeriod, days),
      }) as FhirResource;
    case "AllergyIntolerance":
      return compact({
        ...base,
        clinicalStatus: concept(r.clinicalStatus),
        verificationStatus: concept(r.verificationStatus),
        type: r.type,
        category: Array.isArray(r.category) ? r.category.filter((c) => typeof c === "string") : undefined,
        criticality: r.criticality,
        code: concept(r.code),
        patient: subject,
        onsetDateTime: shiftDate(r.onsetDateTime, days),
      }) as FhirResource;
    case "Encounter":
      return compact({
        ...base,
        status: r.status,
        class: coding(r.class),
        type: concepts(r.type),
        subject,
        period: period(r.period, days),
      }) as FhirResource;
    default:
      return undefined;
  }
}

/** The quasi-identifiers of a de-identified Patient: gender, 5-year birth band (or 90+), state, ZIP3. */
export function quasiIdentifiers(p: FhirResource): string {
  const year = typeof p.birthDate === "string" ? Number(p.birthDate.slice(0, 4)) : undefined;
  const band = year === undefined ? "90+" : `${year - (year % 5)}-${year - (year % 5) + 4}`;
  const address = (p.address as Json[] | undefined)?.[0];
  return [p.gender ?? "?", band, address?.state ?? "?", address?.postalCode ?? "?"].join("|");
}

/**
 * The size of the smallest group of patients who share their quasi-identifiers (k of k-anonymity).
 * @param patients - The de-identified Patients of a release.
 * @returns 0 for an empty release
 */
export function smallestGroup(patients: readonly FhirResource[]): number {
  const groups = new Map<string, number>();
  for (const p of patients) {
    const q = quasiIdentifiers(p);
    groups.set(q, (groups.get(q) ?? 0) + 1);
  }
  return groups.size === 0 ? 0 : Math.min(...groups.values());
}
