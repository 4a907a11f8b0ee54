/**
 * Maps a FHIR resource to the consent categories of src/model/vocabulary.ts. A resource gets its
 * ordinary category from its type (and, for Observation, DiagnosticReport, DocumentReference and
 * ServiceRequest, from its category codes), plus every sensitive category that its own codes or
 * its meta.security labels reveal. References are not chased: a MedicationRequest whose reason
 * points at a depression Condition is classified on its own codes only.
 *
 * Decisions:
 * - Observation `social-history`, `survey` and `exam` -> conditions: they assess the patient's
 *   health state and risks (smoking status, screening scores) like the problem list does;
 *   `notes` is kept for narrative. Screening instruments with sensitive codes (PHQ-9, AUDIT-C,
 *   DAST-10, HARK) add their sensitive category on top.
 * - An Observation without a known category is vitals when its code is a LOINC vital sign,
 *   otherwise labs. An Observation with `device` also gets device-readings.
 * - Directory resources (Organization, Practitioner, PractitionerRole, Location) hold no clinical
 *   data and map to demographics; Provenance and AuditEvent to audit; Consent to documents;
 *   SupplyDelivery to medications (dispensed supplies).
 * - Codings are read from the whole resource (codes, reason codes, claim diagnoses, ...), so a
 *   Claim for a depression visit is financial + mental-health.
 * How several categories combine in a decision belongs to consent/; the suggested reading is that
 * every sensitive category in the list must be granted, and any one of the others suffices.
 */
import { CATEGORIES, categoryMask } from "../model/vocabulary.js";
import type { Category } from "../model/vocabulary.js";
import type { Coding, FhirResource } from "./fhirTypes.js";
import {
  ACT_CODE_SYSTEMS,
  DIAGNOSTIC_SECTIONS,
  ICD10_RANGES,
  ICD10_SYSTEMS,
  LOINC,
  LOINC_CODES,
  NOTE_LOINC,
  OBSERVATION_CATEGORIES,
  RXNORM,
  RXNORM_CODES,
  SECURITY_LABELS,
  SNOMED,
  SNOMED_CODES,
  VITAL_SIGN_LOINC,
} from "./categoryCodes.js";
import type { SensitiveCategory } from "./categoryCodes.js";

/** `system|code` -> sensitive categories, built once from the lists. */
const SENSITIVE_BY_CODE = new Map<string, SensitiveCategory[]>();
function addAll(
  systems: readonly string[],
  lists: Partial<Record<SensitiveCategory, readonly string[]>>,
): void {
  for (const [category, codes] of Object.entries(lists) as [SensitiveCategory, readonly string[]][]) {
    for (const system of systems) {
      for (const code of codes) {
        const key = `${system}|${code}`;
        SENSITIVE_BY_CODE.set(key, [...(SENSITIVE_BY_CODE.get(key) ?? []), category]);
      }
    }
  }
}
addAll(ACT_CODE_SYSTEMS, SECURITY_LABELS);
addAll([SNOMED], SNOMED_CODES);
addAll([LOINC], LOINC_CODES);
addAll([RXNORM], RXNORM_CODES);
const SECURITY_CODES = new Map(
  (Object.entries(SECURITY_LABELS) as [SensitiveCategory, readonly string[]][]).flatMap(([category, codes]) =>
    codes.map((code) => [code, category] as const),
  ),
);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Every Coding-shaped object (`code` string, optional `system`) anywhere in the resource. */
function allCodings(value: unknown, out: Coding[] = [], depth = 0): Coding[] {
  if (depth > 40) return out;
  if (Array.isArray(value)) for (const item of value) allCodings(item, out, depth + 1);
  else if (isObject(value)) {
    if (typeof value.code === "string") out.push(value as Coding);
    for (const [key, v] of Object.entries(value)) if (key !== "text") allCodings(v, out, depth + 1);
  }
  return out;
}

function icd10Category(code: string): SensitiveCategory | undefined {
  const plain = code.replace(".", "").toUpperCase();
  return ICD10_RANGES.find((r) => {
    const head = plain.slice(0, r.from.length);
    return head >= r.from && head <= r.to;
  })?.category;
}

/** Sensitive categories revealed by the resource's own codes and security labels. */
function sensitiveCategories(resource: FhirResource): Set<Category> {
  const found = new Set<Category>();
  for (const label of resource.meta?.security ?? []) {
    const category = typeof label.code === "string" ? SECURITY_CODES.get(label.code) : undefined;
    if (category && (label.system === undefined || ACT_CODE_SYSTEMS.includes(label.system)))
      found.add(category);
  }
  for (const coding of allCodings(resource)) {
    const code = coding.code ?? "";
    const system = coding.system ?? "";
    for (const c of SENSITIVE_BY_CODE.get(`${system}|${code}`) ?? []) found.add(c);
    if (ICD10_SYSTEMS.includes(system)) {
      const c = icd10Category(code);
      if (c) found.add(c);
    }
  }
  return found;
}

function codesOf(value: unknown): Coding[] {
  const concepts = Array.isArray(value) ? value : [value];
  return concepts.flatMap((c: unknown) =>
    isObject(c) && Array.isArray(c.coding) ? (c.coding as Coding[]) : [],
  );
}
const hasLoinc = (concept: unknown, codes: readonly string[]): boolean =>
  codesOf(concept).some((c) => c.system === LOINC && typeof c.code === "string" && codes.includes(c.code));

function observationCategories(r: FhirResource): Category[] {
  const out = codesOf(r.category).flatMap((c) => {
    const category = typeof c.code === "string" ? OBSERVATION_CATEGORIES[c.code] : undefined;
    return category ? [category] : [];
  });
  if (out.length === 0) out.push(hasLoinc(r.code, VITAL_SIGN_LOINC) ? "vitals" : "labs");
  if (r.device !== undefined) out.push("device-readings");
  return out;
}

function diagnosticReportCategories(r: FhirResource): Category[] {
  const out = codesOf(r.category).flatMap((c) =>
    typeof c.code === "string" ? (DIAGNOSTIC_SECTIONS[c.code] ?? []) : [],
  );
  if (hasLoinc(r.category, NOTE_LOINC) || hasLoinc(r.code, NOTE_LOINC)) out.push("notes");
  if (codesOf(r.category).some((c) => c.system === LOINC && c.code === "LP29684-5")) out.push("imaging");
  return out.length > 0 ? out : ["labs"];
}

function serviceRequestCategories(r: FhirResource): Category[] {
  const codes = codesOf(r.category).map((c) => c.code);
  if (codes.includes("108252007")) return ["labs"];
  if (codes.includes("363679005")) return ["imaging"];
  return ["procedures"];
}

/** The ordinary (non-sensitive) categories of a resource by its type. */
function baseCategories(r: FhirResource): Category[] {
  switch (r.resourceType) {
    case "Patient":
    case "Organization":
    case "Practitioner":
    case "PractitionerRole":
    case "Location":
      return ["demographics"];
    case "Condition":
      return ["conditions"];
    case "Observation":
      return observationCategories(r);
    case "DiagnosticReport":
      return diagnosticReportCategories(r);
    case "MedicationRequest":
    case "MedicationStatement":
    case "MedicationAdministration":
    case "Medication":
    case "SupplyDelivery":
      return ["medications"];
    case "AllergyIntolerance":
      return ["allergies"];
    case "Immunization":
      return ["immunizations"];
    case "DocumentReference": {
      const clinical =
        codesOf(r.category).some((c) => c.code === "clinical-note") || hasLoinc(r.type, NOTE_LOINC);
      return clinical ? ["documents", "notes"] : ["documents"];
    }
    case "Consent":
      return ["documents"];
    case "ImagingStudy":
      return ["imaging"];
    case "Encounter":
      return ["encounters"];
    case "Procedure":
      return ["procedures"];
    case "ServiceRequest":
      return serviceRequestCategories(r);
    case "CarePlan":
    case "CareTeam":
    case "Goal":
      return ["care-plans"];
    case "Claim":
    case "ExplanationOfBenefit":
    case "Coverage":
      return ["financial"];
    case "Device":
      return ["device-readings"];
    case "Provenance":
    case "AuditEvent":
      return ["audit"];
    case "QuestionnaireResponse":
      return ["notes"];
    default:
      return ["documents"];
  }
}

/**
 * The consent categories a resource belongs to, in the order of CATEGORIES, never empty.
 * @param resource - a validated resource
 * @returns ordinary category(ies) plus sensitive ones from codes and meta.security
 */
export function categorize(resource: FhirResource): Category[] {
  const found = new Set<Category>(baseCategories(resource));
  for (const c of sensitiveCategories(resource)) found.add(c);
  return CATEGORIES.filter((c) => found.has(c));
}

/**
 * The categories of a resource as the uint32 bitmask used on chain and by decide().
 * @param resource - a validated resource
 * @returns `categoryMask(categorize(resource))`
 */
export function categoryMaskOf(resource: FhirResource): number {
  return categoryMask(categorize(resource));
}
