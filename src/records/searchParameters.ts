/**
 * FHIR R4 search parameters the record store supports (https://hl7.org/fhir/R4/search.html),
 * parsed from a URL query into a typed SearchQuery. Anything not supported is rejected with
 * BaseError("invalid", ..., { code: "not-supported" }) instead of being silently ignored.
 * Parameters combine with AND (a repeated parameter too); comma-separated values with OR.
 */
import { BaseError } from "../errors/BaseError.js";
import { dateRange } from "./dateRange.js";
import { FHIR_ID_RE } from "./fhirDatatypes.js";
import { isSupportedType } from "./fhirTypes.js";
import type { SupportedType } from "./fhirTypes.js";
import { SEARCH_PATHS } from "./searchPaths.js";

export const DATE_PREFIXES = ["eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap"] as const;
export type DatePrefix = (typeof DATE_PREFIXES)[number];
/** One date value: prefix and the [start, end) ms range of the value's precision (widened for `ap`). */
export interface DateValue {
  prefix: DatePrefix;
  start: number;
  end: number;
}
/** Token forms: `code`, `system|code`, `|code` (no system), `system|` (any code in system). */
export type TokenValue =
  | { match: "code"; code: string }
  | { match: "system-code"; system: string; code: string }
  | { match: "no-system"; code: string }
  | { match: "system"; system: string };
export type TokenParamName = "code" | "category" | "status" | "_id";
export type SearchParamName = "patient" | "date" | "_lastUpdated" | TokenParamName;
export type SearchParam =
  | { name: "patient"; kind: "reference"; values: string[] }
  | { name: TokenParamName; kind: "token"; values: TokenValue[] }
  | { name: "date" | "_lastUpdated"; kind: "date"; values: DateValue[] }
  | { name: SearchParamName; kind: "missing"; missing: boolean };
export interface IncludeSpec {
  source: SupportedType;
  param: string;
  target?: SupportedType;
  iterate: boolean;
}
export type SortParam = "date" | "_lastUpdated";
export interface SearchQuery {
  resourceType: SupportedType;
  /** All must match (AND); each one's values are alternatives (OR). */
  params: SearchParam[];
  count: number;
  offset: number;
  /** Opaque page cursor from a previous page's `next` link (`_cursor`). */
  cursor?: string;
  total: "none" | "estimate" | "accurate";
  sort: { param: SortParam; descending: boolean }[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
}

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;
/** Parameters that only shape the HTTP response; the route handles them, parseSearch skips them. */
const IGNORED = new Set(["_format", "_pretty"]);
const SAFE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

const notSupported = (message: string): BaseError =>
  new BaseError("invalid", message, { code: "not-supported" });
const invalidValue = (name: string): BaseError =>
  new BaseError("invalid", `invalid value for search parameter '${name}'`, {
    code: "invalid",
    expression: name,
  });

/** Splits on `sep` outside FHIR escapes (`\,` `\|` `\$` `\\`), unescaping. */
function splitEscaped(value: string, sep: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value.charAt(i);
    if (ch === "\\" && i + 1 < value.length) current += value.charAt(++i);
    else if (ch === sep) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function parseToken(name: string, raw: string): TokenValue {
  const bar = splitEscaped(raw, "|");
  if (bar.length > 2 || bar.some((p) => /\s/.test(p))) throw invalidValue(name);
  const [system = "", code = ""] = bar;
  if (bar.length === 1) {
    if (system === "" || (name === "_id" && !FHIR_ID_RE.test(system))) throw invalidValue(name);
    return { match: "code", code: system };
  }
  if (system === "" && code === "") throw invalidValue(name);
  if (system === "") return { match: "no-system", code };
  return code === "" ? { match: "system", system } : { match: "system-code", system, code };
}

function parseReference(name: string, raw: string): string {
  const m = /^(?:(?:https?:\/\/\S+\/)?([A-Z][A-Za-z]+)\/)?([A-Za-z0-9\-.]{1,64})$/.exec(raw);
  if (!m) throw invalidValue(name);
  if (m[1] !== undefined && m[1] !== "Patient")
    throw notSupported(`search parameter '${name}' supports only Patient references`);
  return `Patient/${m[2] ?? ""}`;
}

function parseDate(name: string, raw: string, now: number): DateValue {
  const prefixed = /^([a-z]{2})(.*)$/.exec(raw);
  const prefix = (prefixed?.[1] ?? "eq") as DatePrefix;
  if (prefixed && !DATE_PREFIXES.includes(prefix)) throw invalidValue(name);
  const range = dateRange(prefixed?.[2] ?? raw);
  if (!range) throw invalidValue(name);
  if (prefix !== "ap") return { prefix, ...range };
  // ap: 10% of the gap between now and the value, on both sides (R4 search, prefixes)
  const slack = Math.abs(now - range.start) * 0.1;
  return { prefix, start: range.start - slack, end: range.end + slack };
}

function parseInclude(name: string, raw: string, iterate: boolean): IncludeSpec {
  const [source, param, target, ...rest] = raw.split(":");
  if (
    !isSupportedType(source) ||
    param === undefined ||
    !/^[a-z][A-Za-z-]{0,63}$/.test(param) ||
    rest.length > 0
  )
    throw invalidValue(name);
  if (target === undefined) return { source, param, iterate };
  if (!isSupportedType(target)) throw invalidValue(name);
  return { source, param, target, iterate };
}

function single(name: string, values: string[]): string {
  if (values.length !== 1)
    throw new BaseError("invalid", `search parameter '${name}' must not be repeated`, { code: "invalid" });
  return values[0] ?? "";
}

function intIn(name: string, raw: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(raw)) throw invalidValue(name);
  const n = Number(raw);
  if (n < min || n > max) throw invalidValue(name);
  return n;
}

/** Which typed parameters a resource type supports, from SEARCH_PATHS. */
function supports(type: SupportedType, name: string): name is SearchParamName {
  if (name === "_id" || name === "_lastUpdated") return true;
  const paths = SEARCH_PATHS[type];
  return (
    (name === "patient" || name === "code" || name === "category" || name === "date" || name === "status") &&
    paths[name] !== undefined
  );
}

/**
 * Parses a FHIR search query for one resource type.
 * @param resourceType - the type searched (`GET /fhir/<type>?...`)
 * @param query - the URL query; repeated keys as arrays
 * @param options - `now` for the `ap` prefix (defaults to Date.now())
 * @returns the typed query with defaults (`_count` 50, `_offset` 0, `_total` none)
 * @throws BaseError("invalid") naming the parameter, never its value (https://hl7.org/fhir/R4/search.html)
 */
export function parseSearch(
  resourceType: string,
  query: Record<string, string | string[] | undefined>,
  options: { now?: number } = {},
): SearchQuery {
  if (!isSupportedType(resourceType)) throw notSupported("search is not supported for this resource type");
  const now = options.now ?? Date.now();
  const out: SearchQuery = {
    resourceType,
    params: [],
    count: DEFAULT_COUNT,
    offset: 0,
    total: "none",
    sort: [],
    include: [],
    revinclude: [],
  };
  for (const [key, rawValues] of Object.entries(query)) {
    if (rawValues === undefined) continue;
    const values = Array.isArray(rawValues) ? rawValues : [rawValues];
    const [base = "", modifier, ...extra] = key.split(":");
    if (IGNORED.has(base)) continue;
    const name = base === "subject" ? "patient" : base;
    const shown = SAFE_NAME_RE.test(base) ? base : "?";
    if (extra.length > 0 && !(base === "_include" || base === "_revinclude"))
      throw notSupported(`malformed search parameter '${shown}'`);
    if (values.some((v) => v === "")) throw invalidValue(shown);
    switch (name) {
      case "_count":
        out.count = intIn(name, single(name, values), 1, MAX_COUNT);
        continue;
      case "_offset":
        out.offset = intIn(name, single(name, values), 0, 1_000_000_000);
        continue;
      case "_cursor": {
        const cursor = single(name, values);
        if (!/^[A-Za-z0-9_\-.~]{1,1024}$/.test(cursor)) throw invalidValue(name);
        out.cursor = cursor;
        continue;
      }
      case "_total": {
        const total = single(name, values);
        if (total !== "none" && total !== "estimate" && total !== "accurate") throw invalidValue(name);
        out.total = total;
        continue;
      }
      case "_sort":
        for (const item of values.flatMap((v) => v.split(","))) {
          const param = item.replace(/^-/, "");
          if (param !== "_lastUpdated" && !(param === "date" && SEARCH_PATHS[resourceType].date))
            throw notSupported(`unsupported _sort for ${resourceType}`);
          out.sort.push({ param, descending: item.startsWith("-") });
        }
        continue;
      case "_include":
      case "_revinclude":
        if (modifier !== undefined && modifier !== "iterate")
          throw notSupported(`modifier is not supported for '${name}'`);
        for (const v of values)
          out[name === "_include" ? "include" : "revinclude"].push(
            parseInclude(name, v, modifier === "iterate"),
          );
        continue;
    }
    if (!supports(resourceType, name))
      throw notSupported(`unknown search parameter '${shown}' for ${resourceType}`);
    if (modifier === "missing") {
      if (name === "_id") throw notSupported(`modifier ':missing' is not supported for '_id'`);
      const v = single(key, values);
      if (v !== "true" && v !== "false") throw invalidValue(shown);
      out.params.push({ name, kind: "missing", missing: v === "true" });
      continue;
    }
    if (modifier !== undefined && !(name === "patient" && modifier === "Patient")) {
      const mod = /^[A-Za-z-]{1,20}$/.test(modifier) ? `':${modifier}' ` : "";
      throw notSupported(`modifier ${mod}is not supported for search parameter '${shown}'`);
    }
    for (const value of values) {
      const alternatives = splitEscaped(value.replace(/\\([|$\\])/g, "\\\\$1"), ",");
      if (name === "patient")
        out.params.push({
          name,
          kind: "reference",
          values: alternatives.map((v) => parseReference(shown, v)),
        });
      else if (name === "date" || name === "_lastUpdated")
        out.params.push({ name, kind: "date", values: alternatives.map((v) => parseDate(name, v, now)) });
      else out.params.push({ name, kind: "token", values: alternatives.map((v) => parseToken(name, v)) });
    }
  }
  if (out.cursor !== undefined && out.offset !== 0)
    throw new BaseError("invalid", "use either _offset or _cursor, not both", { code: "invalid" });
  return out;
}
