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
import { parseSearch, type SearchQuery } from "./searchParameters.js";

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
   * counting, so `total` and every page hold only what the principal may see.
   */
  async search(
    principal: Principal,
    type: string,
    params: Record<string, string | string[] | undefined>,
    baseUrl = "",
  ): Promise<FhirResource> {
    const query = parseSearch(type, params);
    if (query.cursor !== undefined) {
      throw new BaseError("invalid", "search parameter '_cursor' is not supported here: page with _offset", {
        code: "not-supported",
      });
    }
    const page = await this.#searchQuery(principal, query, "search");
    const included = query.include.length ? await this.#includes(principal, page.resources, query) : [];
    return searchsetBundle({ ...page, included }, query, params, `${baseUrl}/${type}`);
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
        for (const ref of referencesAt(resource, spec.param)) {
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

  /** `Patient/{id}/$everything`: the patient's whole record that the principal may see. */
  async everything(principal: Principal, patientId: string): Promise<FhirResource> {
    if (!(await this.h.vault.rows.exists("Patient", patientId)))
      throw new BaseError("not-found", `Patient/${patientId} is not known`);
    const candidates = await this.h.vault.rows.ofPatients([patientId]);
    const screened = await this.h.gate.screen(principal, candidates);
    const page = await this.#open(principal, screened, 0, Number.MAX_SAFE_INTEGER, "export");
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

  async #searchQuery(principal: Principal, query: SearchQuery, action: "search"): Promise<SearchPage> {
    const desc = query.sort[0]?.descending ?? true;
    const by = query.sort[0]?.param === "date" ? "r.sort_date" : "r.last_updated";
    const candidates = await this.h.store.db
      .selectFrom("resources as r")
      .select(CANDIDATE_COLUMNS.map((c) => `r.${c}` as const))
      .where((eb) => searchWhere(eb, query, this.h.blind))
      .orderBy(by, desc ? "desc" : "asc")
      .orderBy("r.id")
      .execute();
    const screened = await this.h.gate.screen(principal, candidates);
    return this.#open(principal, screened, query.offset, query.count, action);
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

/** `Type/id` references held in the element a search parameter names (`subject`, `encounter`, `medication`...). */
function referencesAt(resource: FhirResource, param: string): string[] {
  const names = param === "patient" ? ["patient", "subject", "beneficiary"] : [param, `${param}Reference`];
  const out: string[] = [];
  for (const name of names) {
    const value = resource[name];
    for (const item of Array.isArray(value) ? value : [value]) {
      const ref = (item as { reference?: unknown } | undefined)?.reference;
      if (typeof ref === "string" && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(ref)) out.push(ref);
    }
  }
  return out;
}
