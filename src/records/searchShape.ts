/**
 * `_summary` and `_elements` (https://hl7.org/fhir/R4/search.html#summary, #elements): the
 * resources of a searchset cut down to what was asked, marked with the `SUBSETTED` tag.
 * `_summary=true` keeps the elements FHIR R4 marks as summary elements across the supported
 * types (SUMMARY_ELEMENTS: a union, so a type keeps a few more elements than its own definition
 * lists when another type marks one of its names as summary); `_summary=data` drops `text`.
 */
import type { FhirResource } from "./fhirTypes.js";
import type { SearchQuery } from "./searchParameters.js";

/** The R4 summary elements of the supported types (choice elements by their `[x]` base). */
const SUMMARY_ELEMENTS: ReadonlySet<string> = new Set([
  "identifier",
  "active",
  "status",
  "intent",
  "category",
  "code",
  "subject",
  "patient",
  "beneficiary",
  "encounter",
  "effective",
  "issued",
  "onset",
  "abatement",
  "clinicalStatus",
  "verificationStatus",
  "recordedDate",
  "authoredOn",
  "medication",
  "vaccineCode",
  "occurrence",
  "performed",
  "period",
  "date",
  "type",
  "class",
  "name",
  "telecom",
  "gender",
  "birthDate",
  "deceased",
  "address",
  "managingOrganization",
  "link",
  "value",
  "priority",
  "requester",
  "created",
  "target",
  "recorded",
  "criticality",
  "severity",
  "description",
  "started",
]);
/** Kept whatever was asked (R4: id, meta and mandatory elements; resourceType is the JSON type). */
const ALWAYS = new Set(["resourceType", "id", "meta"]);
const SUBSETTED = { system: "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", code: "SUBSETTED" };

/** The base name of a JSON key of a choice element (`effectiveDateTime` -> `effective`). */
function baseOf(key: string, names: ReadonlySet<string>): string {
  if (names.has(key)) return key;
  for (let i = key.length - 1; i > 0; i--)
    if (/[A-Z]/.test(key.charAt(i)) && names.has(key.slice(0, i))) return key.slice(0, i);
  return key;
}

function subset(resource: FhirResource, keep: (key: string) => boolean): FhirResource {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) if (ALWAYS.has(k) || keep(k)) out[k] = v;
  const meta = (resource.meta ?? {}) as Record<string, unknown>;
  const tags = Array.isArray(meta.tag) ? meta.tag : [];
  out.meta = { ...meta, tag: [...tags, SUBSETTED] };
  return out as FhirResource;
}

/**
 * A match of a search, shaped by the query's `_summary` and `_elements`.
 * @returns the resource unchanged when neither asks for less
 */
export function shapeResource(query: SearchQuery, resource: FhirResource): FhirResource {
  if (query.summary === "true")
    return subset(resource, (k) => SUMMARY_ELEMENTS.has(baseOf(k, SUMMARY_ELEMENTS)));
  if (query.summary === "data") return subset(resource, (k) => k !== "text");
  if (query.elements !== undefined) {
    const wanted = new Set(query.elements.map((e) => e.replace(/\[x\]$/, "")));
    return subset(resource, (k) => wanted.has(baseOf(k, wanted)));
  }
  return resource;
}
