import type { FhirResource } from "./fhirTypes.js";
import type { SearchQuery } from "./searchParameters.js";

/** Identifier system under which a Patient names the patient's ledger account. */
export const PATIENT_ACCOUNT_SYSTEM = "https://carechain.dev/fhir/sid/account";

/** One page of permitted results and the permitted total. */
export interface SearchPage {
  resources: FhirResource[];
  /** `_include`d resources (search mode "include"). */
  included?: FhirResource[];
  total: number;
  offset: number;
  count: number;
}

/**
 * A FHIR searchset Bundle with `self`/`next`/`previous` links that repeat the query with a new
 * `_offset` (https://hl7.org/fhir/R4/http.html#paging). `total` is always reported: the consent
 * filter runs over every match before paging, so the permitted total is known exactly.
 */
export function searchsetBundle(
  page: SearchPage,
  query: SearchQuery,
  params: Record<string, string | string[] | undefined>,
  base: string,
): FhirResource {
  const link = (relation: string, offset: number) => ({
    relation,
    url: `${base}?${withOffset(params, offset, query.count)}`,
  });
  const links = [link("self", page.offset)];
  if (page.offset + page.count < page.total) links.push(link("next", page.offset + page.count));
  if (page.offset > 0) links.push(link("previous", Math.max(0, page.offset - page.count)));
  return {
    resourceType: "Bundle",
    type: "searchset",
    total: page.total,
    link: links,
    entry: [
      ...page.resources.map((r) => ({
        fullUrl: `${r.resourceType}/${r.id}`,
        resource: r,
        search: { mode: "match" },
      })),
      ...(page.included ?? []).map((r) => ({
        fullUrl: `${r.resourceType}/${r.id}`,
        resource: r,
        search: { mode: "include" },
      })),
    ],
  };
}

function withOffset(
  params: Record<string, string | string[] | undefined>,
  offset: number,
  count: number,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (k === "_offset" || k === "_count" || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  q.set("_count", String(count));
  q.set("_offset", String(offset));
  return q.toString();
}

/** One version of a history Bundle: its row's facts and, unless it is a delete marker, its content. */
export interface HistoryVersion {
  versionId: number;
  deleted: boolean;
  lastUpdated: number;
  resource: FhirResource | undefined;
}

/** A FHIR history Bundle (https://hl7.org/fhir/R4/http.html#history) of `type/id`, newest first. */
export function historyBundle(type: string, id: string, versions: readonly HistoryVersion[]): FhirResource {
  const entry = versions.map((v) => ({
    fullUrl: `${type}/${id}`,
    ...(v.resource ? { resource: v.resource } : {}),
    request: { method: v.deleted ? "DELETE" : v.versionId === 1 ? "POST" : "PUT", url: `${type}/${id}` },
    response: {
      status: v.deleted ? "204" : v.versionId === 1 ? "201" : "200",
      lastModified: new Date(v.lastUpdated).toISOString(),
    },
  }));
  return { resourceType: "Bundle", type: "history", total: entry.length, entry };
}
