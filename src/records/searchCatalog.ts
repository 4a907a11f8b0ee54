/**
 * The one table of what FHIR search this node serves: per resource type, its search parameters
 * with their FHIR types and modifiers, the `_include` / `_revinclude` values, the `_sort` keys, and
 * the result parameters. parseSearch validates against it and the CapabilityStatement is generated
 * from it (src/records/capabilityStatement.ts), so what is advertised is what is accepted.
 */
import { SUPPORTED_TYPES, type SupportedType } from "./fhirTypes.js";
import { SEARCH_PATHS } from "./searchPaths.js";

/** FHIR search parameter types (https://hl7.org/fhir/R4/search.html#ptypes) used here. */
export type ParamType = "token" | "reference" | "date" | "string";

export interface ParamDef {
  name: string;
  type: ParamType;
  /** Modifiers accepted (`missing`, `exact`...); anything else is refused. */
  modifiers: readonly string[];
  /** Date prefixes accepted (date parameters only). */
  prefixes?: readonly string[];
  documentation: string;
}

/** An `_include` or `_revinclude` value: `source:param` following `element` to `target`. */
export interface IncludeDef {
  source: SupportedType;
  param: string;
  /** The element of `source` holding the reference. */
  elements: readonly string[];
  target: SupportedType;
}

export const ALL_DATE_PREFIXES = ["eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap"] as const;
/** `birthdate` is a day: the prefixes that compare days (`ne`, `sa`, `eb` are not served). */
export const BIRTHDATE_PREFIXES = ["eq", "lt", "gt", "le", "ge", "ap"] as const;

/** Response-format parameters the HTTP layer handles (https://hl7.org/fhir/R4/http.html#parameters). */
export const FORMAT_PARAMS = ["_format", "_pretty"] as const;
export const SUMMARY_VALUES = ["true", "false", "count", "data"] as const;

const common: ParamDef[] = [
  { name: "_id", type: "token", modifiers: [], documentation: "logical id" },
  {
    name: "_lastUpdated",
    type: "date",
    modifiers: [],
    prefixes: ALL_DATE_PREFIXES,
    documentation: "when the current version was written",
  },
];

const PATIENT_PARAMS: ParamDef[] = [
  {
    name: "name",
    type: "string",
    modifiers: [],
    documentation:
      "prefix of any part of a name (family, given, prefix, suffix, text); case and accent insensitive; blinded index",
  },
  {
    name: "family",
    type: "string",
    modifiers: [],
    documentation: "prefix of the family name; case and accent insensitive; blinded index",
  },
  {
    name: "given",
    type: "string",
    modifiers: [],
    documentation: "prefix of a given name; case and accent insensitive; blinded index",
  },
  {
    name: "identifier",
    type: "token",
    modifiers: ["missing"],
    documentation: "system|value, value, or system|; blinded index",
  },
  { name: "gender", type: "token", modifiers: ["missing"], documentation: "administrative gender" },
  {
    name: "birthdate",
    type: "date",
    modifiers: ["missing"],
    prefixes: BIRTHDATE_PREFIXES,
    documentation: "birth date (years 1800-2199), eq/lt/gt/le/ge/ap; blinded index",
  },
];

/** Search parameters of one resource type, in the order the CapabilityStatement lists them. */
export function searchParamsOf(type: SupportedType): ParamDef[] {
  const paths = SEARCH_PATHS[type];
  const out = [...common];
  if (type === "Patient") out.push(...PATIENT_PARAMS);
  if (paths.patient) {
    out.push({
      name: "patient",
      type: "reference",
      modifiers: ["missing", "Patient"],
      documentation: `the patient (${paths.patient.join(", ")})`,
    });
    if (paths.patient.includes("subject"))
      out.push({
        name: "subject",
        type: "reference",
        modifiers: ["missing", "Patient"],
        documentation: "the subject, a Patient (same as patient)",
      });
  }
  for (const name of ["code", "category", "status"] as const)
    if (paths[name])
      out.push({ name, type: "token", modifiers: ["missing"], documentation: paths[name].join(", ") });
  if (paths.date)
    out.push({
      name: "date",
      type: "date",
      modifiers: ["missing"],
      prefixes: ALL_DATE_PREFIXES,
      documentation: `first present of ${paths.date.join(", ")}`,
    });
  return out;
}

/** The definition of `name` for `type`, if supported. */
export function paramOf(type: SupportedType, name: string): ParamDef | undefined {
  return searchParamsOf(type).find((p) => p.name === name);
}

/** `_sort` keys per type: indexed in SQL (`_lastUpdated`, `date`) or sorted after decryption. */
export function sortKeysOf(type: SupportedType): string[] {
  const keys = ["_lastUpdated", "_id"];
  if (SEARCH_PATHS[type].date) keys.push("date");
  if (type === "Patient") keys.push("birthdate", "family", "given", "name");
  return keys;
}

/** Sort keys the server orders by after decrypting the permitted matches (blinded values). */
export const DECRYPTED_SORT_KEYS: ReadonlySet<string> = new Set(["birthdate", "family", "given", "name"]);

const ENCOUNTER_SOURCES: SupportedType[] = [
  "Observation",
  "Condition",
  "Procedure",
  "DiagnosticReport",
  "MedicationRequest",
  "Immunization",
  "DocumentReference",
  "ServiceRequest",
];

/** Every `_include` value served (and so every `_revinclude` value, seen from the target). */
export const INCLUDES: readonly IncludeDef[] = (() => {
  const out: IncludeDef[] = [];
  for (const source of SUPPORTED_TYPES) {
    const patient = SEARCH_PATHS[source].patient;
    if (!patient || source === "AuditEvent" || source === "Provenance") continue;
    out.push({ source, param: "patient", elements: patient, target: "Patient" });
    if (patient.includes("subject"))
      out.push({ source, param: "subject", elements: ["subject"], target: "Patient" });
  }
  for (const source of ENCOUNTER_SOURCES)
    out.push({ source, param: "encounter", elements: ["encounter"], target: "Encounter" });
  out.push(
    {
      source: "Patient",
      param: "general-practitioner",
      elements: ["generalPractitioner"],
      target: "Practitioner",
    },
    { source: "Patient", param: "organization", elements: ["managingOrganization"], target: "Organization" },
    {
      source: "MedicationRequest",
      param: "medication",
      elements: ["medicationReference"],
      target: "Medication",
    },
    { source: "MedicationRequest", param: "requester", elements: ["requester"], target: "Practitioner" },
    { source: "Observation", param: "performer", elements: ["performer"], target: "Practitioner" },
    { source: "Encounter", param: "service-provider", elements: ["serviceProvider"], target: "Organization" },
  );
  return out;
})();

/** `_include` values a search of `type` may carry (its own outgoing references). */
export const includesOf = (type: SupportedType): IncludeDef[] => INCLUDES.filter((i) => i.source === type);

/**
 * `_revinclude` values a search of `type` may carry: resources pointing at it. Served for
 * references to a Patient (followed through the patient index); others are not served.
 */
export const revincludesOf = (type: SupportedType): IncludeDef[] =>
  INCLUDES.filter((i) => i.target === type && i.target === "Patient");

/** The `_include` string of a definition (`Observation:patient`). */
export const includeName = (i: IncludeDef): string => `${i.source}:${i.param}`;
