/**
 * The search index values a stored resource contributes, and an in-memory evaluator of a parsed
 * SearchQuery over one resource: the reference semantics the repository's SQL must agree with.
 * Date semantics follow the R4 prefix rules on ranges (https://hl7.org/fhir/R4/search.html#prefix).
 */
import { dateRange, periodRange } from "./dateRange.js";
import type { MsRange } from "./dateRange.js";
import { isSupportedType } from "./fhirTypes.js";
import type { FhirResource } from "./fhirTypes.js";
import { normalizeText, type NameField } from "./searchBlinded.js";
import type { DateValue, SearchParamName, SearchQuery, TokenValue } from "./searchParameters.js";
import { SEARCH_PATHS } from "./searchPaths.js";

/**
 * One indexed value. Tokens fill `system`/`code`, dates `start`/`end` (ms, [start, end); a missing
 * bound is open), `patient` fills `reference` as `Patient/<id>`.
 */
export interface IndexRow {
  param: SearchParamName;
  system?: string;
  code?: string;
  start?: number;
  end?: number;
  reference?: string;
  /** A name part (`name` rows): its field and normalized text. */
  field?: NameField;
  text?: string;
  /** The stored birthDate (`birthdate` rows), from which its blinded units are derived. */
  value?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const PATIENT_REF_RE = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** Values at a dotted path, arrays flattened; `x[x]` yields the one present choice value. */
function valuesAt(node: unknown, path: string): unknown[] {
  let current: unknown[] = [node];
  for (const step of path.split(".")) {
    const next: unknown[] = [];
    for (const item of current.flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v]))) {
      if (!isObject(item)) continue;
      if (step.endsWith("[x]")) {
        const base = step.slice(0, -3);
        for (const [k, v] of Object.entries(item))
          if (k.startsWith(base) && /^[A-Z]/.test(k.slice(base.length))) next.push(v);
      } else if (item[step] !== undefined) next.push(item[step]);
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v]));
}

/** Ranges of a date-ish value: date/dateTime/instant string, Period, or Timing events. */
function rangesOf(value: unknown): MsRange[] {
  if (typeof value === "string") return dateRange(value) ? [dateRange(value) as MsRange] : [];
  if (!isObject(value)) return [];
  if (Array.isArray(value.event)) return value.event.flatMap(rangesOf);
  const period = periodRange(value);
  return period ? [period] : [];
}

function tokenRows(param: SearchParamName, value: unknown): IndexRow[] {
  if (typeof value === "string") return [{ param, code: value }];
  if (!isObject(value) || !Array.isArray(value.coding)) return [];
  return value.coding.flatMap((c: unknown): IndexRow[] => {
    if (!isObject(c) || typeof c.code !== "string") return [];
    return [
      typeof c.system === "string" ? { param, system: c.system, code: c.code } : { param, code: c.code },
    ];
  });
}

function patientRef(value: unknown): string | undefined {
  const ref = isObject(value) ? value.reference : undefined;
  const m = typeof ref === "string" ? PATIENT_REF_RE.exec(ref) : null;
  return m ? `Patient/${m[1] ?? ""}` : undefined;
}

/**
 * The index rows a resource contributes for every supported search parameter of its type.
 * @param resource - a validated resource whose references are already `Type/id`
 * @returns rows for `_id`, `_lastUpdated`, `patient`, `code`, `category`, `status`, `date`
 */
export function extractIndex(resource: FhirResource): IndexRow[] {
  const rows: IndexRow[] = [];
  if (resource.id !== undefined) rows.push({ param: "_id", code: resource.id });
  const updated = resource.meta?.lastUpdated === undefined ? undefined : dateRange(resource.meta.lastUpdated);
  if (updated) rows.push({ param: "_lastUpdated", start: updated.start, end: updated.end });
  if (!isSupportedType(resource.resourceType)) return rows;
  if (resource.resourceType === "Patient") rows.push(...patientRows(resource));
  const paths = SEARCH_PATHS[resource.resourceType];
  for (const path of paths.patient ?? []) {
    for (const ref of valuesAt(resource, path).map(patientRef))
      if (ref) rows.push({ param: "patient", reference: ref });
  }
  for (const name of ["code", "category", "status"] as const) {
    for (const path of paths[name] ?? [])
      rows.push(...valuesAt(resource, path).flatMap((v) => tokenRows(name, v)));
  }
  for (const path of paths.date ?? []) {
    const ranges = valuesAt(resource, path).flatMap(rangesOf);
    if (ranges.length === 0) continue;
    for (const r of ranges) {
      const row: IndexRow = { param: "date" };
      if (Number.isFinite(r.start)) row.start = r.start;
      if (Number.isFinite(r.end)) row.end = r.end;
      rows.push(row);
    }
    break;
  }
  return rows;
}

/** The code system of Patient.gender (https://hl7.org/fhir/R4/valueset-administrative-gender.html). */
export const ADMINISTRATIVE_GENDER = "http://hl7.org/fhir/administrative-gender";

/** The rows of the Patient parameters: name parts, identifiers, gender, birthdate. */
function patientRows(patient: FhirResource): IndexRow[] {
  const rows: IndexRow[] = [];
  const part = (field: NameField, v: unknown) => {
    if (typeof v !== "string") return;
    const text = normalizeText(v);
    if (text !== "") rows.push({ param: "name", field, text });
  };
  for (const name of valuesAt(patient, "name")) {
    if (!isObject(name)) continue;
    part("family", name.family);
    for (const g of Array.isArray(name.given) ? name.given : []) part("given", g);
    for (const p of [
      ...(Array.isArray(name.prefix) ? name.prefix : []),
      ...(Array.isArray(name.suffix) ? name.suffix : []),
    ])
      part("other", p);
    part("other", name.text);
  }
  for (const id of valuesAt(patient, "identifier")) {
    if (!isObject(id) || typeof id.value !== "string") continue;
    rows.push(
      typeof id.system === "string"
        ? { param: "identifier", system: id.system, code: id.value }
        : { param: "identifier", code: id.value },
    );
  }
  if (typeof patient.gender === "string")
    rows.push({ param: "gender", system: ADMINISTRATIVE_GENDER, code: patient.gender });
  const birth = typeof patient.birthDate === "string" ? dateRange(patient.birthDate) : undefined;
  if (birth && typeof patient.birthDate === "string")
    rows.push({ param: "birthdate", start: birth.start, end: birth.end, value: patient.birthDate });
  return rows;
}

/** Fields a string parameter searches. */
export const STRING_FIELDS: Record<"name" | "family" | "given", readonly NameField[]> = {
  name: ["family", "given", "other"],
  family: ["family"],
  given: ["given"],
};

/**
 * Whether a target range satisfies one date search value, per the R4 prefix definitions.
 * @param value - prefix and search range
 * @param target - the resource's range; a missing bound is open
 */
export function dateMatches(value: DateValue, target: { start?: number; end?: number }): boolean {
  const rs = target.start ?? -Infinity;
  const re = target.end ?? Infinity;
  const within = rs >= value.start && re <= value.end;
  switch (value.prefix) {
    case "eq":
      return within;
    case "ne":
      return !within;
    case "gt":
      return re > value.end;
    case "lt":
      return rs < value.start;
    case "ge":
      return re > value.end || within;
    case "le":
      return rs < value.start || within;
    case "sa":
      return rs >= value.end;
    case "eb":
      return re <= value.start;
    case "ap":
      return rs < value.end && re > value.start;
  }
}

/** Whether an index row satisfies one token search value. */
export function tokenMatches(value: TokenValue, row: IndexRow): boolean {
  switch (value.match) {
    case "code":
      return row.code === value.code;
    case "system-code":
      return row.system === value.system && row.code === value.code;
    case "no-system":
      return row.system === undefined && row.code === value.code;
    case "system":
      return row.system === value.system;
  }
}

/**
 * Evaluates a parsed query against one resource in memory (paging, sort and includes aside).
 * @param query - from parseSearch
 * @param resource - a stored resource
 * @returns true when every parameter matches (https://hl7.org/fhir/R4/search.html)
 */
export function matches(query: SearchQuery, resource: FhirResource): boolean {
  if (resource.resourceType !== query.resourceType) return false;
  const rows = extractIndex(resource);
  return query.params.every((param) => {
    const own = rows.filter((r) =>
      param.name === "family" || param.name === "given"
        ? r.param === "name" && r.field === param.name
        : r.param === param.name,
    );
    switch (param.kind) {
      case "missing":
        return (own.length === 0) === param.missing;
      case "reference":
        return own.some((r) => r.reference !== undefined && param.values.includes(r.reference));
      case "token":
        return param.values.some((v) => own.some((r) => tokenMatches(v, r)));
      case "date":
        return param.values.some((v) => own.some((r) => dateMatches(v, r)));
      case "string":
        return param.values.some((v) =>
          rows.some(
            (r) =>
              r.param === "name" &&
              r.field !== undefined &&
              STRING_FIELDS[param.name].includes(r.field) &&
              (r.text ?? "").startsWith(v),
          ),
        );
    }
  });
}

/**
 * The id of the patient a resource belongs to: a Patient's own id, else the first Patient
 * reference in its patient search paths (subject, patient, beneficiary, ...).
 * @param resource - a resource whose references are `Type/id` or absolute URLs
 * @returns the patient id, or undefined for resources outside a patient compartment
 */
export function patientOf(resource: FhirResource): string | undefined {
  if (resource.resourceType === "Patient") return resource.id;
  const paths = isSupportedType(resource.resourceType)
    ? (SEARCH_PATHS[resource.resourceType].patient ?? [])
    : ["subject", "patient", "beneficiary"];
  for (const path of paths) {
    for (const value of valuesAt(resource, path)) {
      const ref = patientRef(value);
      if (ref) return ref.slice("Patient/".length);
    }
  }
  return undefined;
}
