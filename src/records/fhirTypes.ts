/**
 * Minimal typed shapes of FHIR R4 resources (https://hl7.org/fhir/R4/resource.html): just what the
 * record store reads; every other element is carried as `unknown` and validated at the edge.
 */

/** Resource types this node stores: every type a Synthea R4 bundle contains, plus the usual others. */
export const SUPPORTED_TYPES = [
  "Patient",
  "Encounter",
  "Condition",
  "Observation",
  "DiagnosticReport",
  "MedicationRequest",
  "MedicationStatement",
  "MedicationAdministration",
  "Medication",
  "AllergyIntolerance",
  "Immunization",
  "Procedure",
  "CarePlan",
  "CareTeam",
  "Goal",
  "DocumentReference",
  "Device",
  "ImagingStudy",
  "Claim",
  "ExplanationOfBenefit",
  "Coverage",
  "Provenance",
  "Organization",
  "Practitioner",
  "PractitionerRole",
  "Location",
  "SupplyDelivery",
  "Consent",
  "AuditEvent",
  "ServiceRequest",
  "QuestionnaireResponse",
] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];

const SUPPORTED_SET: ReadonlySet<string> = new Set(SUPPORTED_TYPES);

/** True when `type` names a resource type this node stores. */
export function isSupportedType(type: unknown): type is SupportedType {
  return typeof type === "string" && SUPPORTED_SET.has(type);
}

export interface Coding {
  system?: string;
  version?: string;
  code?: string;
  display?: string;
  [k: string]: unknown;
}

export interface CodeableConcept {
  coding?: Coding[];
  text?: string;
  [k: string]: unknown;
}

export interface Identifier {
  system?: string;
  value?: string;
  [k: string]: unknown;
}

export interface Reference {
  reference?: string;
  type?: string;
  identifier?: Identifier;
  display?: string;
  [k: string]: unknown;
}

export interface Period {
  start?: string;
  end?: string;
  [k: string]: unknown;
}

export interface Meta {
  versionId?: string;
  lastUpdated?: string;
  source?: string;
  profile?: string[];
  security?: Coding[];
  tag?: Coding[];
  [k: string]: unknown;
}

/** Any FHIR resource: a resource type, an optional logical id and meta, and its other elements. */
export interface FhirResource {
  resourceType: string;
  id?: string;
  meta?: Meta;
  [k: string]: unknown;
}

export const BUNDLE_TYPES = ["transaction", "batch", "collection", "searchset"] as const;
export type BundleType = (typeof BUNDLE_TYPES)[number];

export const HTTP_VERBS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"] as const;
export type HttpVerb = (typeof HTTP_VERBS)[number];

export interface BundleEntryRequest {
  method: HttpVerb;
  url: string;
  ifNoneExist?: string;
  ifMatch?: string;
  [k: string]: unknown;
}

export interface BundleEntry {
  fullUrl?: string;
  resource?: FhirResource;
  request?: BundleEntryRequest;
  [k: string]: unknown;
}

/** A Bundle of one of the types the node accepts (https://hl7.org/fhir/R4/bundle.html). */
export interface FhirBundle {
  resourceType: "Bundle";
  id?: string;
  meta?: Meta;
  type: BundleType;
  entry: BundleEntry[];
  [k: string]: unknown;
}
