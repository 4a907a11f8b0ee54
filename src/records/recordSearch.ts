import type { Address } from "viem";
import type { Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import { CANDIDATE_COLUMNS } from "../store/recordColumns.js";
import type { BlindIndex } from "./blindIndex.js";
import type { FhirResource } from "./fhirTypes.js";
import type { PatientLinks } from "./patientLinks.js";
import type { RecordGate, Screened } from "./recordGate.js";
import { searchWhere } from "./recordSearchSql.js";
import type { RecordVault } from "./recordVault.js";
import { searchsetBundle, type SearchPage } from "./searchBundle.js";
import { beyondIndex } from "./searchBlinded.js";
import { DECRYPTED_SORT_KEYS, includesOf } from "./searchCatalog.js";
import { matches } from "./searchIndex.js";
import { parseSearch, type SearchQuery } from "./searchParameters.js";
import { shapeResource } from "./searchShape.js";
import {
  compareKeys,
  keysOf,
  sortMatches,
  sorterOf,
  type Match,
  type SortableCandidate,
  type SortKey,
} from "./searchSort.js";

/** Most matches a search decrypts to sort by a blinded value or check a long name. */
const MAX_DECRYPTED = 2000;
/** Most resources one page's `_revinclude` considers. */
const MAX_REVINCLUDED = 1000;

export interface RecordSearchDeps {
  store: Store;
  blind: BlindIndex;
  links: PatientLinks;
  gate: RecordGate;
  vault: RecordVault;
}

/**
 * FHIR search, `_include` and `$everything` over the records repository: candidates from SQL over
 * the blind index, then the gate's consent decision on every candidate before counting, so results,
 * totals and includes hold only what the principal may see; one audit entry per patient touched.
 */
export class RecordSearch {
  constructor(private readonly h: RecordSearchDeps) {}

  /**
   * FHIR search. Candidates come from SQL over the blind index; the consent filter runs before
   * counting, so `total`, every page, `_include` and `_revinclude` hold only what the principal
   * may see. Pages follow a sealed cursor on (sort key, id), so they stay put while data is added.
   * @param options - `lenient`: the request said `Prefer: handling=lenient`
   */
  async search(
    principal: Principal,
    type: string,
    params: Record<string, string | string[] | undefined>,
    baseUrl = "",
    options: { lenient?: boolean } = {},
  ): Promise<FhirResource> {
    const query = parseSearch(type, params, { lenient: options.lenient === true });
    const matched = await this.#match(principal, query);
    const sorter = sorterOf(query);
    const ordered = sortMatches(matched.permitted, sorter);
    let start = query.offset;
    if (query.cursor !== undefined) {
      const after = this.#openCursor(query.cursor, sorter.signature);
      start = ordered.findIndex((m) => compareKeys(m.keys, after, sorter.descending) > 0);
      if (start < 0) start = ordered.length;
    }
    const countOnly = query.summary === "count" || query.count === 0;
    const pageMatches = countOnly ? [] : ordered.slice(start, start + query.count);
    const resources = await this.#resourcesOf(pageMatches);
    await this.h.gate.searched(principal, "search", resources, matched.withheld);
    const included = [
      ...(query.include.length ? await this.#includes(principal, resources, query) : []),
      ...(query.revinclude.length ? await this.#revincludes(principal, resources, query) : []),
    ];
    const last = pageMatches[pageMatches.length - 1];
    const next =
      last !== undefined && start + pageMatches.length < ordered.length
        ? this.h.blind.sealCursor(JSON.stringify({ s: sorter.signature, k: last.keys }))
        : undefined;
    const shapedIncludes = query.summary === "true" || query.summary === "data";
    return searchsetBundle(
      {
        resources: resources.map((r) => shapeResource(query, r)),
        included: shapedIncludes ? included.map((r) => shapeResource(query, r)) : included,
        total: ordered.length,
        offset: start,
        count: query.count,
        ...(next === undefined ? {} : { next }),
        warnings: query.ignored ?? [],
        countOnly,
      },
      query,
      params,
      `${baseUrl}/${type}`,
    );
  }

  /**
   * The ids of the `type` resources a search query matches that the principal may see (the
   * consent decision on each, as in `search`; nothing is opened or audited here). For conditional
   * create and update (`ifNoneExist`, `If-None-Exist`, `PUT Patient?identifier=...`): the caller
   * learns only of matches it may see, and audits the write that follows.
   * @param query - the search part of the condition, e.g. `{ identifier: "http://x|123" }`
   * @throws BaseError("invalid") for an unknown or unsupported parameter, naming it
   */
  async matchIds(
    principal: Principal,
    type: string,
    query: Record<string, string | string[] | undefined>,
  ): Promise<string[]> {
    const parsed = parseSearch(type, query);
    const matched = await this.#match(principal, parsed);
    return matched.permitted.map((m) => m.candidate.id);
  }

  /**
   * Every match of the query the principal may see, unordered, with its sort facts: SQL over the
   * blind index, the gate's decision, then (where the index cannot decide alone: a name longer
   * than the indexed prefixes, or a sort on a blinded value) the decrypted resource.
   */
  async #match(
    principal: Principal,
    query: SearchQuery,
  ): Promise<{ permitted: Match[]; withheld: Screened["withheld"] }> {
    const candidates = (await this.h.store.db
      .selectFrom("resources as r")
      .select([...CANDIDATE_COLUMNS.map((c) => `r.${c}` as const), "r.last_updated", "r.sort_date"])
      .where((eb) => searchWhere(eb, query, this.h.blind))
      .execute()) as SortableCandidate[];
    const screened = await this.h.gate.screen(principal, candidates);
    const permitted = screened.permitted as SortableCandidate[];
    const verify = query.params.some((p) => p.kind === "string" && p.values.some(beyondIndex));
    const decrypt = verify || query.sort.some((s) => DECRYPTED_SORT_KEYS.has(s.param));
    if (!decrypt)
      return {
        permitted: permitted.map((c) => ({ candidate: c, keys: keysOf(query, c) })),
        withheld: screened.withheld,
      };
    if (permitted.length > MAX_DECRYPTED)
      throw new BaseError(
        "invalid",
        `too many matches to sort by a blinded parameter or to check a long name (over ${MAX_DECRYPTED}): narrow the search`,
        { code: "too-costly", expression: query.sort[0]?.param ?? "name" },
      );
    const opened = await this.#resourcesOf(permitted.map((c) => ({ candidate: c, keys: [] })));
    const out: Match[] = [];
    opened.forEach((resource, i) => {
      const c = permitted[i] as SortableCandidate;
      if (verify && !matches(query, resource)) return;
      out.push({ candidate: c, keys: keysOf(query, c, resource), resource });
    });
    return { permitted: out, withheld: screened.withheld };
  }

  /** The decrypted resources of `matches`, in their order (opened once when already open). */
  async #resourcesOf(list: readonly Match[]): Promise<FhirResource[]> {
    const missing = list.filter((m) => m.resource === undefined).map((m) => m.candidate);
    const byKey = missing.length ? await this.h.vault.rows.versionsAt(missing) : new Map();
    const out: FhirResource[] = [];
    for (const m of list) {
      if (m.resource) out.push(m.resource);
      else {
        const row = byKey.get(`${m.candidate.type}/${m.candidate.id}`);
        if (row) out.push(await this.h.vault.open(row));
      }
    }
    return out;
  }

  #openCursor(sealed: string, signature: string): SortKey[] {
    const text = this.h.blind.openCursor(sealed);
    const parsed = text === undefined ? undefined : (JSON.parse(text) as { s?: unknown; k?: unknown });
    if (parsed?.s !== signature || !Array.isArray(parsed.k))
      throw new BaseError("invalid", "invalid value for search parameter '_cursor'", {
        code: "invalid",
        expression: "_cursor",
      });
    return parsed.k as SortKey[];
  }

  /**
   * `_include`: resources referenced from the page, each read through the same gated, audited
   * path as a direct read; those the principal may not see are left out.
   */
  async #includes(principal: Principal, page: FhirResource[], query: SearchQuery): Promise<FhirResource[]> {
    const seen = new Set(page.map((r) => `${r.resourceType}/${r.id}`));
    const wanted: string[] = [];
    for (const spec of query.include) {
      for (const resource of page) {
        if (resource.resourceType !== spec.source) continue;
        const elements = includesOf(spec.source).find((d) => d.param === spec.param)?.elements ?? [];
        for (const ref of referencesAt(resource, elements)) {
          if (spec.target && !ref.startsWith(`${spec.target}/`)) continue;
          if (!seen.has(ref)) {
            seen.add(ref);
            wanted.push(ref);
          }
        }
      }
    }
    const out: FhirResource[] = [];
    for (const ref of wanted.slice(0, 1000)) {
      const [type, id] = ref.split("/") as [string, string];
      const row = await this.h.vault.rows.current(type, id);
      if (row === undefined) continue;
      try {
        await this.h.gate.read(principal, row);
        out.push(await this.h.vault.open(row));
      } catch (error) {
        if (!(error instanceof BaseError) || (error.kind !== "forbidden" && error.kind !== "not-found"))
          throw error;
      }
    }
    return out;
  }

  /**
   * `_revinclude` of a Patient search: the resources of the page's patients of each named type,
   * through the same consent filter and audit as the matches (what is withheld is audited, not
   * returned, not counted).
   */
  async #revincludes(
    principal: Principal,
    page: FhirResource[],
    query: SearchQuery,
  ): Promise<FhirResource[]> {
    const ids = page.filter((r) => r.resourceType === "Patient" && r.id).map((r) => r.id as string);
    if (ids.length === 0) return [];
    const types = new Set(query.revinclude.map((spec) => spec.source as string));
    const rows = (await this.h.vault.rows.ofPatients(ids)).filter((c) => types.has(c.type));
    const screened = await this.h.gate.screen(principal, rows.slice(0, MAX_REVINCLUDED));
    const resources = await this.#resourcesOf(
      screened.permitted.map((c) => ({ candidate: c as SortableCandidate, keys: [] })),
    );
    await this.h.gate.searched(principal, "search", resources, screened.withheld);
    return resources;
  }

  /**
   * `Patient/{id}/$everything`: the patient's whole record that the principal may see. Hidden
   * equals missing: a caller who may see nothing of the patient gets the answer of an unknown
   * Patient id (the refusals are still in the patient's access log), so the operation cannot tell
   * a stranger which Patient ids exist here.
   */
  async everything(principal: Principal, patientId: string): Promise<FhirResource> {
    const candidates = await this.h.vault.rows.ofPatients([patientId]);
    const screened = await this.h.gate.screen(principal, candidates);
    const page = await this.#open(principal, screened, 0, Number.MAX_SAFE_INTEGER, "export");
    if (page.total === 0) throw new BaseError("not-found", `Patient/${patientId} is not known`);
    return {
      resourceType: "Bundle",
      type: "searchset",
      total: page.total,
      entry: page.resources.map((r) => ({
        fullUrl: `${r.resourceType}/${r.id}`,
        resource: r,
        search: { mode: "match" },
      })),
    };
  }

  /**
   * `$everything` for a ledger account: the union over every FHIR Patient linked to `account` on
   * this node, optionally only resources touching the `categories` mask. Same consent decision and
   * audit entries as a local `$everything` (this is what another node's request is served by).
   */
  async everythingForAccount(
    principal: Principal,
    account: Address,
    categories?: number,
  ): Promise<FhirResource> {
    const rows = await this.h.vault.rows.ofPatients(await this.h.links.patientIdsOf(account));
    const screened = await this.h.gate.screen(principal, rows, categories);
    const page = await this.#open(principal, screened, 0, Number.MAX_SAFE_INTEGER, "export");
    const entry: object[] = page.resources.map((r) => ({
      fullUrl: `${r.resourceType}/${r.id}`,
      resource: r,
      search: { mode: "match" },
    }));
    if (page.total < screened.considered) {
      entry.push({
        resource: {
          resourceType: "OperationOutcome",
          issue: [
            { severity: "information", code: "suppressed", diagnostics: "withheld by the patient's consent" },
          ],
        },
        search: { mode: "outcome" },
      });
    }
    return { resourceType: "Bundle", type: "searchset", total: page.total, entry };
  }

  /** Decrypts the requested page of what the gate permitted, and audits what was returned and withheld. */
  async #open(
    principal: Principal,
    screened: Screened,
    offset: number,
    count: number,
    action: "search" | "export",
  ): Promise<SearchPage> {
    const pageRows = screened.permitted.slice(offset, offset + count);
    const resources: FhirResource[] = [];
    if (pageRows.length) {
      const byKey = await this.h.vault.rows.versionsAt(pageRows);
      for (const c of pageRows) {
        const row = byKey.get(`${c.type}/${c.id}`);
        if (row) resources.push(await this.h.vault.open(row));
      }
    }
    await this.h.gate.searched(principal, action, resources, screened.withheld);
    return { resources, total: screened.permitted.length, offset, count };
  }
}

/** `Type/id` references held in the named top-level elements. */
function referencesAt(resource: FhirResource, elements: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of elements) {
    const value = resource[name];
    for (const item of Array.isArray(value) ? value : [value]) {
      const ref = (item as { reference?: unknown } | undefined)?.reference;
      if (typeof ref === "string" && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(ref)) out.push(ref);
    }
  }
  return out;
}
