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
import { normalizeText } from "./searchBlinded.js";
import {
  ALL_DATE_PREFIXES,
  FORMAT_PARAMS,
  includeName,
  includesOf,
  paramOf,
  revincludesOf,
  sortKeysOf,
  SUMMARY_VALUES,
} from "./searchCatalog.js";

export const DATE_PREFIXES = ALL_DATE_PREFIXES;
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
export type TokenParamName = "code" | "category" | "status" | "_id" | "identifier" | "gender";
export type StringParamName = "name" | "family" | "given";
export type DateParamName = "date" | "_lastUpdated" | "birthdate";
export type SearchParamName = "patient" | DateParamName | TokenParamName | StringParamName;
export type SearchParam =
  | { name: "patient"; kind: "reference"; values: string[] }
  | { name: TokenParamName; kind: "token"; values: TokenValue[] }
  | { name: DateParamName; kind: "date"; values: DateValue[] }
  /** String values are normalized (searchBlinded.ts normalizeText); each is a prefix. */
  | { name: StringParamName; kind: "string"; values: string[] }
  | { name: SearchParamName; kind: "missing"; missing: boolean };
export interface IncludeSpec {
  source: SupportedType;
  param: string;
  target?: SupportedType;
  iterate: boolean;
}
export type Summary = "true" | "false" | "count" | "data";
export interface SearchQuery {
  resourceType: SupportedType;
  /** All must match (AND); each one's values are alternatives (OR). */
  params: SearchParam[];
  count: number;
  offset: number;
  /** Opaque page cursor from a previous page's `next` link (`_cursor`). */
  cursor?: string;
  total: "none" | "estimate" | "accurate";
  sort: { param: string; descending: boolean }[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** `_summary` (https://hl7.org/fhir/R4/search.html#summary); absent means false. */
  summary?: Summary;
  /** `_elements`: top-level elements to keep. */
  elements?: string[];
  /**
   * Parameters ignored under `Prefer: handling=lenient`, each as the message a strict search
   * would have refused it with (names the parameter, never its value).
   */
  ignored?: string[];
}

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;
const IGNORED: ReadonlySet<string> = new Set(FORMAT_PARAMS);
const SAFE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Result parameters FHIR defines that this server does not serve: refused by name. */
const UNSERVED = new Set([
  "_contained",
  "_containedType",
  "_score",
  "_graph",
  "_text",
  "_content",
  "_list",
  "_has",
  "_query",
  "_filter",
  "_type",
  "_tag",
  "_profile",
  "_security",
  "_source",
]);

const notSupported = (message: string, expression?: string): BaseError =>
  new BaseError("invalid", message, { code: "not-supported", expression });
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

function parseDate(name: string, raw: string, now: number, allowed: readonly string[]): DateValue {
  const prefixed = /^([a-z]{2})(.*)$/.exec(raw);
  const prefix = (prefixed?.[1] ?? "eq") as DatePrefix;
  if (prefixed && !DATE_PREFIXES.includes(prefix)) throw invalidValue(name);
  if (!allowed.includes(prefix))
    throw notSupported(`prefix '${prefix}' is not supported for search parameter '${name}'`, name);
  const range = dateRange(prefixed?.[2] ?? raw);
  if (!range) throw invalidValue(name);
  if (prefix !== "ap") return { prefix, ...range };
  // ap: 10% of the gap between now and the value, on both sides (R4 search, prefixes)
  const slack = Math.abs(now - range.start) * 0.1;
  return { prefix, start: range.start - slack, end: range.end + slack };
}

function parseInclude(
  name: "_include" | "_revinclude",
  raw: string,
  searched: SupportedType,
  iterate: boolean,
): IncludeSpec {
  const [source, param, target, ...rest] = raw.split(":");
  if (source === undefined || param === undefined || rest.length > 0) throw invalidValue(name);
  const served = name === "_include" ? includesOf(searched) : revincludesOf(searched);
  const def = served.find((d) => includeName(d) === `${source}:${param}`);
  if (!def || (target !== undefined && target !== def.target))
    throw notSupported(
      `this ${name} is not supported for ${searched}: the CapabilityStatement lists those served`,
      name,
    );
  return { source: def.source, param: def.param, target: def.target, iterate };
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

/**
 * Parses a FHIR search query for one resource type, against the table of what is served
 * (src/records/searchCatalog.ts).
 * @param resourceType - the type searched (`GET /fhir/<type>?...`)
 * @param query - the URL query; repeated keys as arrays
 * @param options - `now` for the `ap` prefix (defaults to Date.now()); `lenient` (the request said
 *   `Prefer: handling=lenient`): unknown and unsupported parameters, modifiers and prefixes are
 *   left out and listed in `ignored` instead of refused; invalid values are refused either way
 * @returns the typed query with defaults (`_count` 50, `_offset` 0, `_total` none)
 * @throws BaseError("invalid") naming the parameter, never its value (https://hl7.org/fhir/R4/search.html)
 */
export function parseSearch(
  resourceType: string,
  query: Record<string, string | string[] | undefined>,
  options: { now?: number; lenient?: boolean } = {},
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
    try {
      parseOne(out, key, values, now);
    } catch (error) {
      if (!options.lenient || !(error instanceof BaseError) || error.code !== "not-supported") throw error;
      (out.ignored ??= []).push(error.message);
    }
  }
  if (out.cursor !== undefined && out.offset !== 0)
    throw new BaseError("invalid", "use either _offset or _cursor, not both", { code: "invalid" });
  return out;
}

/** Parses one query key into `out`. */
function parseOne(out: SearchQuery, key: string, values: string[], now: number): void {
  const resourceType = out.resourceType;
  const [base = "", modifier, ...extra] = key.split(":");
  if (IGNORED.has(base)) return;
  const name = base === "subject" && paramOf(resourceType, "subject") ? "patient" : base;
  const shown = SAFE_NAME_RE.test(base) ? base : "?";
  if (extra.length > 0) throw notSupported(`malformed search parameter '${shown}'`, shown);
  if (values.some((v) => v === "")) throw invalidValue(shown);
  const noModifier = () => {
    if (modifier !== undefined) throw unsupportedModifier(modifier, shown);
  };
  switch (name) {
    case "_count":
      noModifier();
      out.count = intIn(name, single(name, values), 0, MAX_COUNT);
      return;
    case "_offset":
      noModifier();
      out.offset = intIn(name, single(name, values), 0, 1_000_000_000);
      return;
    case "_cursor": {
      noModifier();
      const cursor = single(name, values);
      if (!/^[A-Za-z0-9_\-.~]{1,2048}$/.test(cursor)) throw invalidValue(name);
      out.cursor = cursor;
      return;
    }
    case "_total": {
      noModifier();
      const total = single(name, values);
      if (total !== "none" && total !== "estimate" && total !== "accurate") throw invalidValue(name);
      out.total = total;
      return;
    }
    case "_summary": {
      noModifier();
      const summary = single(name, values);
      if (summary === "text")
        throw notSupported("_summary=text is not supported: use true, count, data or false", name);
      if (!(SUMMARY_VALUES as readonly string[]).includes(summary)) throw invalidValue(name);
      out.summary = summary as Summary;
      return;
    }
    case "_elements": {
      noModifier();
      const elements = values.flatMap((v) => v.split(",")).map((e) => e.trim());
      if (elements.some((e) => !/^[a-z][A-Za-z0-9]{0,63}(\[x\])?$/.test(e))) throw invalidValue(name);
      out.elements = [...(out.elements ?? []), ...elements];
      return;
    }
    case "_sort": {
      noModifier();
      const keys = sortKeysOf(resourceType);
      for (const item of values.flatMap((v) => v.split(","))) {
        const param = item.replace(/^-/, "");
        if (!keys.includes(param))
          throw notSupported(
            `_sort by this key is not supported for ${resourceType}: use ${keys.join(", ")}`,
            name,
          );
        out.sort.push({ param, descending: item.startsWith("-") });
      }
      return;
    }
    case "_include":
    case "_revinclude":
      if (modifier === "iterate")
        throw notSupported(`${name}:iterate is not supported: only the direct ${name} is served`, name);
      noModifier();
      for (const v of values)
        out[name === "_include" ? "include" : "revinclude"].push(parseInclude(name, v, resourceType, false));
      return;
  }
  if (UNSERVED.has(name)) throw notSupported(`search parameter '${shown}' is not supported`, shown);
  const def = paramOf(resourceType, name);
  if (!def) throw notSupported(`unknown search parameter '${shown}' for ${resourceType}`, shown);
  if (modifier === "missing" && def.modifiers.includes("missing")) {
    const v = single(key, values);
    if (v !== "true" && v !== "false") throw invalidValue(shown);
    out.params.push({ name: name as SearchParamName, kind: "missing", missing: v === "true" });
    return;
  }
  if (modifier !== undefined && !(def.type === "reference" && modifier === "Patient"))
    throw unsupportedModifier(modifier, shown);
  for (const value of values) {
    const alternatives = splitEscaped(value.replace(/\\([|$\\])/g, "\\\\$1"), ",");
    if (name === "patient")
      out.params.push({
        name,
        kind: "reference",
        values: alternatives.map((v) => parseReference(shown, v)),
      });
    else if (def.type === "date")
      out.params.push({
        name: name as DateParamName,
        kind: "date",
        values: alternatives.map((v) => parseDate(name, v, now, def.prefixes ?? ALL_DATE_PREFIXES)),
      });
    else if (def.type === "string") {
      const normalized = alternatives.map(normalizeText);
      if (normalized.some((v) => v === "")) throw invalidValue(shown);
      out.params.push({ name: name as StringParamName, kind: "string", values: normalized });
    } else
      out.params.push({
        name: name as TokenParamName,
        kind: "token",
        values: alternatives.map((v) => parseToken(name, v)),
      });
  }
}

function unsupportedModifier(modifier: string, shown: string): BaseError {
  const mod = /^[A-Za-z-]{1,20}$/.test(modifier) ? `':${modifier}' ` : "";
  return notSupported(`modifier ${mod}is not supported for search parameter '${shown}'`, shown);
}
