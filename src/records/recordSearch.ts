import type { Address } from "viem";
import type { Principal } from "../model/principal.js";
import type { ConsentGate, PatientDecider } from "../consent/consentGate.js";
import type { Decision } from "../consent/decide.js";
import { categoriesOf, type Category } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import { directoryDecision } from "./accessDecision.js";
import type { BlindIndex } from "./blindIndex.js";
import type { FhirResource } from "./fhirTypes.js";
import { auditPatient, type AuditFacts } from "../audit/auditor.js";
import {
  searchWhere,
  STORED_VERSION_COLUMNS,
  type Candidate,
  type StoredVersion,
} from "./recordSearchSql.js";
import { searchsetBundle, type SearchPage } from "./searchBundle.js";
import { patientOf } from "./searchIndex.js";
import { parseSearch, type SearchQuery } from "./searchParameters.js";

/** What the search side needs from the repository: its stores, the gate, and its gated primitives. */
export interface SearchHost {
  store: Store;
  blind: BlindIndex;
  gate: ConsentGate;
  patientAccount(patientId: string | null | undefined): Promise<Address | undefined>;
  patientIdsOf(account: string): Promise<string[]>;
  /** The gated, audited read of one resource. */
  read(principal: Principal, type: string, id: string): Promise<FhirResource>;
  /** Decrypts one stored version (after a decision). */
  open(row: StoredVersion): Promise<FhirResource>;
  audit(principal: Principal, facts: AuditFacts): Promise<void>;
}

/**
 * FHIR search, `_include` and `$everything` over the records repository: candidates from SQL over
 * the blind index, then the consent decision on every candidate before counting, so results,
 * totals and includes hold only what the principal may see; one audit entry per patient touched.
 */
export class RecordSearch {
  constructor(private readonly h: SearchHost) {}

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
      try {
        out.push(await this.h.read(principal, type, id));
      } catch (error) {
        if (!(error instanceof BaseError) || (error.kind !== "forbidden" && error.kind !== "not-found"))
          throw error;
      }
    }
    return out;
  }

  /** `Patient/{id}/$everything`: the patient's whole record that the principal may see. */
  async everything(principal: Principal, patientId: string): Promise<FhirResource> {
    const patient = await this.h.store.db
      .selectFrom("resources")
      .select(["id"])
      .where("type", "=", "Patient")
      .where("id", "=", patientId)
      .executeTakeFirst();
    if (!patient) throw new BaseError("not-found", `Patient/${patientId} is not known`);
    const candidates = await this.h.store.db
      .selectFrom("resources")
      .select(["type", "id", "version_id", "patient_id", "categories", "author_org"])
      .where("patient_id", "=", patientId)
      .where("deleted", "=", 0)
      .orderBy("type")
      .orderBy("last_updated")
      .execute();
    const page = await this.#filterAndOpen(principal, candidates, 0, Number.MAX_SAFE_INTEGER, "export");
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
    const patientIds = await this.h.patientIdsOf(account);
    const rows = patientIds.length
      ? await this.h.store.db
          .selectFrom("resources")
          .select(["type", "id", "version_id", "patient_id", "categories", "author_org"])
          .where("patient_id", "in", patientIds)
          .where("deleted", "=", 0)
          .orderBy("type")
          .orderBy("last_updated")
          .execute()
      : [];
    const candidates =
      categories === undefined ? rows : rows.filter((r) => (Number(r.categories) & categories) !== 0);
    const page = await this.#filterAndOpen(principal, candidates, 0, Number.MAX_SAFE_INTEGER, "export");
    const entry: object[] = page.resources.map((r) => ({
      fullUrl: `${r.resourceType}/${r.id}`,
      resource: r,
      search: { mode: "match" },
    }));
    if (page.total < candidates.length) {
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
      .select(["r.type", "r.id", "r.version_id", "r.patient_id", "r.categories", "r.author_org"])
      .where((eb) => searchWhere(eb, query, this.h.blind))
      .orderBy(by, desc ? "desc" : "asc")
      .orderBy("r.id")
      .execute();
    return this.#filterAndOpen(principal, candidates, query.offset, query.count, action);
  }

  /** Applies consent to every candidate (for the total), then decrypts only the requested page. */
  async #filterAndOpen(
    principal: Principal,
    candidates: Candidate[],
    offset: number,
    count: number,
    action: "search" | "export",
  ): Promise<SearchPage> {
    const deciders = new Map<string, PatientDecider>();
    const permitted: Candidate[] = [];
    const withheld = new Map<
      string,
      { categories: Set<Category>; reason: string; account: Address | undefined }
    >();
    for (const c of candidates) {
      let decision: Decision;
      let account: Address | undefined;
      if (c.patient_id) {
        let decider = deciders.get(c.patient_id);
        if (!decider) {
          decider = this.h.gate.forPatient(principal, await this.h.patientAccount(c.patient_id), "read");
          deciders.set(c.patient_id, decider);
        }
        account = decider.patientAccount;
        decision = decider.decide(categoriesOf(c.categories), c.author_org);
      } else decision = directoryDecision(principal);
      if (decision.permit) permitted.push(c);
      else if (c.patient_id) {
        const w = withheld.get(c.patient_id) ?? {
          categories: new Set<Category>(),
          reason: decision.reason,
          account,
        };
        for (const cat of categoriesOf(c.categories)) w.categories.add(cat);
        withheld.set(c.patient_id, w);
      }
    }
    const pageRows = permitted.slice(offset, offset + count);
    const resources: FhirResource[] = [];
    if (pageRows.length) {
      const { db } = this.h.store;
      const byKey = new Map<string, StoredVersion>();
      for (let i = 0; i < pageRows.length; i += 300) {
        const chunk = pageRows.slice(i, i + 300);
        const rows = await db
          .selectFrom("resource_versions")
          .select(STORED_VERSION_COLUMNS)
          .where((eb) =>
            eb.or(
              chunk.map((c) =>
                eb.and([eb("type", "=", c.type), eb("id", "=", c.id), eb("version_id", "=", c.version_id)]),
              ),
            ),
          )
          .execute();
        for (const r of rows) byKey.set(`${r.type}/${r.id}`, r);
      }
      for (const c of pageRows) {
        const row = byKey.get(`${c.type}/${c.id}`);
        if (row) resources.push(await this.h.open(row));
      }
    }
    // one audit entry per patient touched: what was returned, and what consent withheld
    const returned = new Map<string, string[]>();
    for (const r of resources) {
      const pid = r.resourceType === "Patient" ? r.id : patientOf(r);
      if (!pid) continue;
      const list = returned.get(pid) ?? [];
      list.push(`${r.resourceType}/${r.id}`);
      returned.set(pid, list);
    }
    for (const [pid, refs] of returned) {
      await this.h.audit(principal, {
        action,
        decision: "permit",
        patient: auditPatient(pid, await this.h.patientAccount(pid)),
        resources: refs,
      });
    }
    for (const [pid, w] of withheld) {
      await this.h.audit(principal, {
        action: "deny",
        decision: "deny",
        patient: auditPatient(pid, w.account),
        categories: [...w.categories],
        reason: `${action}: ${w.reason}`,
      });
    }
    return { resources, total: permitted.length, offset, count };
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
