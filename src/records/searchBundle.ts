import type { FhirResource } from "./fhirTypes.js";
import type { SearchQuery } from "./searchParameters.js";

/** Identifier system under which a Patient names the patient's ledger account. */
export const PATIENT_ACCOUNT_SYSTEM = "https://carechain.dev/fhir/sid/account";

/** One page of permitted results and the permitted total. */
export interface SearchPage {
  resources: FhirResource[];
  /** `_include`d and `_revinclude`d resources (search mode "include"). */
  included?: FhirResource[];
  total: number;
  offset: number;
  count: number;
  /** The sealed cursor of the next page, when there is one. */
  next?: string;
  /** Warnings for the OperationOutcome entry (parameters ignored under lenient handling...). */
  warnings?: string[];
  /** Whether to leave the entries out (`_summary=count`). */
  countOnly?: boolean;
}

/**
 * A FHIR searchset Bundle (https://hl7.org/fhir/R4/http.html#paging). `self` repeats the query;
 * `next` carries a sealed cursor on the last entry's sort key and id, so the next page starts
 * after that entry whatever was written since; `previous` is given for `_offset` pages. `total`
 * is always reported: the consent filter runs over every match before paging, so the permitted
 * total is known exactly. Warnings go in an OperationOutcome entry of search mode `outcome`.
 */
export function searchsetBundle(
  page: SearchPage,
  query: SearchQuery,
  params: Record<string, string | string[] | undefined>,
  base: string,
): FhirResource {
  const link = (relation: string, set: Record<string, string>) => ({
    relation,
    url: `${base}?${withParams(params, set)}`,
  });
  const links = [{ relation: "self", url: `${base}?${withParams(params, {})}` }];
  if (page.next !== undefined) links.push(link("next", { _count: String(query.count), _cursor: page.next }));
  if (page.offset > 0 && query.cursor === undefined)
    links.push(
      link("previous", {
        _count: String(query.count),
        _offset: String(Math.max(0, page.offset - page.count)),
      }),
    );
  const entry: object[] = page.countOnly
    ? []
    : [
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
      ];
  if (page.warnings?.length)
    entry.push({
      resource: {
        resourceType: "OperationOutcome",
        issue: page.warnings.map((diagnostics) => ({
          severity: "warning",
          code: "not-supported",
          diagnostics,
        })),
      },
      search: { mode: "outcome" },
    });
  return { resourceType: "Bundle", type: "searchset", total: page.total, link: links, entry };
}

/** The query string of `params` with the paging keys replaced by `set`. */
function withParams(
  params: Record<string, string | string[] | undefined>,
  set: Record<string, string>,
): string {
  const q = new URLSearchParams();
  const replaced = Object.keys(set).length > 0;
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || (replaced && (k === "_offset" || k === "_cursor" || k === "_count"))) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  for (const [k, v] of Object.entries(set)) q.set(k, v);
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
