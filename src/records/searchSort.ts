/**
 * `_sort` (https://hl7.org/fhir/R4/search.html#sort) over the permitted matches of a search, and
 * the keys page cursors hold. Every order ends with the id, so it is total and a cursor on
 * (sort keys, id) names one place in it. `_lastUpdated` and `date` come from the index row;
 * `birthdate`, `family`, `given` and `name` are blinded in the index, so they come from the
 * decrypted resource. A missing value sorts last in either direction.
 */
import type { Candidate } from "../store/recordColumns.js";
import { dateRange } from "./dateRange.js";
import type { FhirResource } from "./fhirTypes.js";
import { normalizeText } from "./searchBlinded.js";
import type { SearchQuery } from "./searchParameters.js";

export type SortKey = number | string | null;
/** A candidate with the index columns a sort reads. */
export type SortableCandidate = Candidate & {
  last_updated: number | string;
  sort_date: number | string | null;
};
/** One permitted match: its row, its sort keys (id last) and, when already decrypted, the resource. */
export interface Match {
  candidate: SortableCandidate;
  keys: SortKey[];
  resource?: FhirResource;
}
export interface Sorter {
  params: string[];
  /** One per key, the id's included. */
  descending: boolean[];
  /** What a cursor was made for: a cursor of another order is refused. */
  signature: string;
}

/** The order of a query: its `_sort`, else newest first; then the id. */
export function sorterOf(query: SearchQuery): Sorter {
  const sort = query.sort.length ? query.sort : [{ param: "_lastUpdated", descending: true }];
  const params = [...sort.map((s) => s.param), "_id"];
  const descending = [...sort.map((s) => s.descending), false];
  return { params, descending, signature: sort.map((s) => (s.descending ? "-" : "") + s.param).join(",") };
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function firstName(resource: FhirResource | undefined): { family?: unknown; given?: unknown } | undefined {
  const names = resource?.name;
  return Array.isArray(names) ? (names[0] as { family?: unknown; given?: unknown } | undefined) : undefined;
}

function keyOf(param: string, c: SortableCandidate, resource: FhirResource | undefined): SortKey {
  const name = firstName(resource);
  const family = typeof name?.family === "string" ? normalizeText(name.family) : null;
  const given0 = Array.isArray(name?.given) ? (name.given as unknown[])[0] : undefined;
  const given = typeof given0 === "string" ? normalizeText(given0) : null;
  switch (param) {
    case "_lastUpdated":
      return num(c.last_updated);
    case "date":
      return num(c.sort_date);
    case "_id":
      return c.id;
    case "birthdate": {
      const birth = resource?.birthDate;
      return typeof birth === "string" ? (dateRange(birth)?.start ?? null) : null;
    }
    case "family":
      return family;
    case "given":
      return given;
    case "name":
      return family === null && given === null ? null : `${family ?? ""}\u0000${given ?? ""}`;
    default:
      return null;
  }
}

/** The sort keys of one match, the id last. */
export function keysOf(query: SearchQuery, c: SortableCandidate, resource?: FhirResource): SortKey[] {
  return sorterOf(query).params.map((p) => keyOf(p, c, resource));
}

function compareOne(a: SortKey, b: SortKey, descending: boolean): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  const order = a < b ? -1 : 1;
  return descending ? -order : order;
}

/** Compares two key lists in the sorter's order: negative when `a` comes first. */
export function compareKeys(
  a: readonly SortKey[],
  b: readonly SortKey[],
  descending: readonly boolean[],
): number {
  for (let i = 0; i < descending.length; i++) {
    const c = compareOne(a[i] ?? null, b[i] ?? null, descending[i] ?? false);
    if (c !== 0) return c;
  }
  return 0;
}

/** The matches in the sorter's order. */
export function sortMatches(list: Match[], sorter: Sorter): Match[] {
  return [...list].sort((x, y) => compareKeys(x.keys, y.keys, sorter.descending));
}
