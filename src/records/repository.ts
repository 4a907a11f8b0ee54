import { randomUUID } from "node:crypto";
import type { Address, Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { BreakGlassSessions } from "../consent/breakGlass.js";
import type { ConsentGate } from "../consent/consentGate.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import type { EventBus } from "../events/eventBus.js";
import type { Store } from "../store/database.js";
import { RecordRows } from "../store/recordRows.js";
import { isUniqueViolation } from "../store/uniqueViolation.js";
import type { BlindIndex } from "./blindIndex.js";
import type { FhirResource } from "./fhirTypes.js";
import { auditPatient, type AuditFacts, type Auditor } from "../audit/auditor.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { ErasureAtRest } from "../store/erasureRows.js";
import { erasureAtRest } from "./erasureAtRest.js";
import { validateResource } from "./validateResource.js";
import { RecordSearch } from "./recordSearch.js";
import { isOperator, isRecorder, notKnown } from "./accessDecision.js";
import { crashPoint } from "./crashPoint.js";
import { planBundleImport, type ConditionalMatches } from "./bundlePlan.js";
import { isSupportedType } from "./fhirTypes.js";
import { canonicalJson } from "../crypto/canonicalJson.js";
import { patientOf } from "./searchIndex.js";
import { PatientLinks } from "./patientLinks.js";
import { WriteAuthorizer } from "./writeAuthorizer.js";
import { prepareDelete, prepareWrite, type PrepareDeps } from "./recordPrepare.js";
import { RecordGate } from "./recordGate.js";
import { RecordVault, type CurrentVersion } from "./recordVault.js";
import { historyBundle } from "./searchBundle.js";
import { DIRECTORY_TYPES, persistWrite, withAccount, type PreparedWrite } from "./recordWrite.js";

/** Conditions of a conditional write. */
export interface WriteConditions {
  /** `If-Match`: the version the write expects to replace (412 when it is not the current one). */
  ifMatch?: number | undefined;
}

/** Refuses a write whose `If-Match` does not name the version it would replace (0: none). */
function checkVersion(expected: number | undefined, current: number): void {
  if (expected !== undefined && expected !== current)
    throw new BaseError("precondition", "If-Match does not name the current version", {
      expression: "If-Match",
    });
}

export interface RecordRepositoryDeps {
  store: Store;
  keyring: PatientKeyring;
  gate: ConsentGate;
  /** Break-glass sessions, whose stated reasons an erasure removes. */
  breakGlass?: Pick<BreakGlassSessions, "forgetPatient">;
  auditor: Auditor;
  blind: BlindIndex;
  events: EventBus;
  /** This node's organization id: the author of everything written here. */
  organizationId: Hex;
  /**
   * The audit log, whose openings of entries about an erased patient the erasure deletes (without
   * it the openings stay).
   */
  auditEntries?: Pick<AuditLog, "patientEntryIndexes">;
  /** Patient links, shared with whoever follows other processes' changes (a private cache when absent). */
  links?: PatientLinks;
}

/**
 * The one way to read or write health data, whoever calls it (HTTP route, CLI, another node):
 * every read passes the gate (src/records/recordGate.ts) before the vault opens anything
 * (src/records/recordVault.ts), every write the write authorizer (src/records/writeAuthorizer.ts)
 * and its durable audit intent before it commits, so no path can forget either. Resources are
 * stored as envelope-encrypted canonical JSON, one row per version.
 */
export class RecordRepository {
  readonly #d: RecordRepositoryDeps;
  readonly #links: PatientLinks;
  readonly #vault: RecordVault;
  readonly #gate: RecordGate;
  readonly #prepare: PrepareDeps;
  readonly #search: RecordSearch;

  constructor(deps: RecordRepositoryDeps) {
    this.#d = deps;
    const links = (this.#links = deps.links ?? new PatientLinks(deps.store));
    const vault = (this.#vault = new RecordVault(new RecordRows(deps.store), deps.keyring));
    this.#gate = new RecordGate({ ...deps, links, vault });
    const writes = new WriteAuthorizer({ ...deps, links });
    this.#prepare = { keyring: deps.keyring, blind: deps.blind, links, vault, writes };
    this.#search = new RecordSearch({ store: deps.store, blind: deps.blind, links, gate: this.#gate, vault });
  }

  /**
   * Creates a resource. The id is the server's, except that the node's own recorders (and jobs)
   * may bring their source system's id (src/records/accessDecision.ts `isRecorder`), and anyone a
   * directory resource's (directory resources are public); a create naming an existing id is an
   * update of it, authorized as one. Nobody else chooses ids: a create at a hidden id could not
   * answer as one at a free id does (docs/access-rules.md, "Ids").
   */
  async create(principal: Principal, input: unknown): Promise<FhirResource> {
    const resource = validateResource(input);
    const chooses = DIRECTORY_TYPES.has(resource.resourceType) || this.#choosesIds(principal);
    const id = resource.id !== undefined && chooses ? resource.id : randomUUID();
    return this.#write(principal, { ...resource, id }, "create");
  }

  /**
   * Updates `type/id` (FHIR update). Update-as-create is only for the node's own recorders and
   * jobs: to anyone else a missing id answers as a hidden one does (404).
   */
  async update(
    principal: Principal,
    type: string,
    id: string,
    input: unknown,
    conditions: WriteConditions = {},
  ): Promise<FhirResource> {
    const resource = validateResource(input);
    if (resource.resourceType !== type)
      throw new BaseError("invalid", `resourceType must be ${type}`, { expression: "resourceType" });
    if (resource.id !== undefined && resource.id !== id)
      throw new BaseError("invalid", "resource id does not match the URL", { expression: `${type}.id` });
    return this.#write(principal, { ...resource, id }, "update", conditions.ifMatch);
  }

  /**
   * FHIR conditional create (`If-None-Exist`, https://hl7.org/fhir/R4/http.html#ccreate): creates
   * the resource unless the query matches what the principal may see; one match is returned as it
   * is, several are refused (412). A match the principal may not see counts as none, so the answer
   * never tells a hidden resource from a missing one.
   */
  async createIfNoneExist(
    principal: Principal,
    input: unknown,
    query: string,
  ): Promise<{ resource: FhirResource; created: boolean }> {
    const resource = validateResource(input);
    const ids = await this.#matches(principal, resource.resourceType, query, "If-None-Exist");
    if (ids.length > 1)
      throw new BaseError("precondition", "If-None-Exist matches more than one resource", {
        expression: "If-None-Exist",
      });
    if (ids.length === 1)
      return { resource: await this.read(principal, resource.resourceType, ids[0]!), created: false };
    return { resource: await this.create(principal, resource), created: true };
  }

  /**
   * FHIR conditional update (`PUT Type?query`, https://hl7.org/fhir/R4/http.html#cond-update):
   * updates the one match the principal may see, creates when there is none (the id is then the
   * server's, as for a create), refuses several (412).
   */
  async updateWhere(
    principal: Principal,
    type: string,
    query: string,
    input: unknown,
  ): Promise<{ resource: FhirResource; created: boolean }> {
    const resource = validateResource(input);
    if (resource.resourceType !== type)
      throw new BaseError("invalid", `resourceType must be ${type}`, { expression: "resourceType" });
    const ids = await this.#matches(principal, type, query, "query");
    if (ids.length > 1)
      throw new BaseError("precondition", "the conditional update matches more than one resource", {
        expression: "query",
      });
    const id = ids[0];
    if (id === undefined) {
      const { id: _given, ...rest } = resource;
      return { resource: await this.create(principal, rest), created: true };
    }
    if (resource.id !== undefined && resource.id !== id)
      throw new BaseError("invalid", "resource id does not match the resource the query found", {
        expression: `${type}.id`,
      });
    return { resource: await this.#write(principal, { ...resource, id }, "update"), created: false };
  }

  /**
   * FHIR delete: a new version marking `type/id` deleted (history keeps the earlier ones), under
   * the same rule as an update of the current version. Deleting a deleted resource changes
   * nothing.
   */
  async delete(
    principal: Principal,
    type: string,
    id: string,
    conditions: WriteConditions = {},
  ): Promise<{ versionId: number }> {
    const current = await this.#vault.currentVersion(type, id);
    if (!current) throw notKnown(type);
    if (current.deleted) {
      // decided like a read of the marker, so a hidden resource still answers as a missing one
      await this.read(principal, type, id).catch((error: unknown) => {
        if (!(error instanceof BaseError && error.kind === "gone")) throw error;
      });
      checkVersion(conditions.ifMatch, current.versionId);
      return { versionId: current.versionId };
    }
    const prepared = await prepareDelete(this.#prepare, principal, type, id, current);
    checkVersion(conditions.ifMatch, current.versionId);
    await this.#commit(principal, prepared);
    return { versionId: prepared.versionId };
  }

  /**
   * The ids of `type` that a conditional request's `query` matches among what the principal may
   * see. Nothing is opened or audited here: the read or write that follows is.
   */
  async #matches(principal: Principal, type: string, query: string, where: string): Promise<string[]> {
    const params: Record<string, string | string[]> = {};
    for (const [name, value] of new URLSearchParams(query)) {
      if (name.startsWith("_") && name !== "_id")
        throw new BaseError("invalid", `a conditional ${where} takes search parameters only`, {
          expression: where,
        });
      const had = params[name];
      params[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
    }
    if (Object.keys(params).length === 0)
      throw new BaseError("invalid", `a conditional ${where} needs at least one search parameter`, {
        expression: where,
      });
    return this.#search.matchIds(principal, type, params);
  }

  /** Whether the principal may choose the id of a new resource. */
  #choosesIds(principal: Principal): boolean {
    const org = this.#d.organizationId;
    return isOperator(principal, org) || isRecorder(principal, org);
  }

  /** Reads the current version of `type/id`. */
  async read(principal: Principal, type: string, id: string): Promise<FhirResource> {
    const row = await this.#vault.rows.current(type, id);
    if (!row) throw notKnown(type);
    await this.#gate.read(principal, row);
    return this.#vault.open(row);
  }

  /**
   * The same read as {@link read}, returning the stored canonical JSON text and its version as
   * they are, so an HTTP response need not parse and serialize the resource again.
   */
  async readText(
    principal: Principal,
    type: string,
    id: string,
  ): Promise<{ text: string; versionId: number }> {
    const row = await this.#vault.rows.current(type, id);
    if (!row) throw notKnown(type);
    await this.#gate.read(principal, row);
    return { text: await this.#vault.openText(row), versionId: row.version_id };
  }

  /** Reads one version of `type/id`. */
  async vread(principal: Principal, type: string, id: string, versionId: number): Promise<FhirResource> {
    const row = await this.#vault.rows.version(type, id, versionId);
    if (!row) throw notKnown(type);
    await this.#gate.read(principal, row);
    return this.#vault.open(row);
  }

  /** Every version of `type/id` the principal may see, newest first, as a FHIR history Bundle. */
  async history(principal: Principal, type: string, id: string): Promise<FhirResource> {
    const rows = await this.#vault.rows.versions(type, id);
    if (rows.length === 0) throw notKnown(type);
    const allowed = await this.#gate.history(principal, type, id, rows);
    const versions = [];
    for (const row of allowed) {
      versions.push({
        versionId: row.version_id,
        deleted: row.deleted !== 0,
        lastUpdated: row.last_updated,
        resource: row.deleted ? undefined : await this.#vault.open(row),
      });
    }
    return historyBundle(type, id, versions);
  }

  /**
   * FHIR search (https://hl7.org/fhir/R4/search.html): the consent filter runs before counting, so
   * `total` and every page hold only what the principal may see.
   */
  search(
    principal: Principal,
    type: string,
    params: Record<string, string | string[] | undefined>,
    baseUrl = "",
    options: { lenient?: boolean } = {},
  ): Promise<FhirResource> {
    return this.#search.search(principal, type, params, baseUrl, options);
  }

  /**
   * The ids of the `type` resources matching a search query that the principal may see (for
   * conditional create and update); see RecordSearch.matchIds.
   */
  matchIds(
    principal: Principal,
    type: string,
    query: Record<string, string | string[] | undefined>,
  ): Promise<string[]> {
    return this.#search.matchIds(principal, type, query);
  }

  /** `Patient/{id}/$everything`: the patient's whole record that the principal may see. */
  everything(principal: Principal, patientId: string): Promise<FhirResource> {
    return this.#search.everything(principal, patientId);
  }

  /** `$everything` over every Patient linked to `account` (what another node's fetch is served by). */
  everythingForAccount(principal: Principal, account: Address, categories?: number): Promise<FhirResource> {
    return this.#search.everythingForAccount(principal, account, categories);
  }

  /** Links a FHIR Patient to the patient's ledger account (consent is keyed by account). */
  linkPatient(patientId: string, account: Address): Promise<void> {
    return this.#links.link(patientId, account);
  }

  /** The account linked to a FHIR Patient id, if any. */
  patientAccount(patientId: string | null | undefined): Promise<Address | undefined> {
    return this.#links.accountOf(patientId);
  }

  /** FHIR Patient ids linked to an account. */
  patientIdsOf(account: string): Promise<string[]> {
    return this.#links.patientIdsOf(account);
  }

  /**
   * Crypto-shreds a patient: destroys their key so every stored version becomes unreadable for
   * good, and drops their search index. Only the patient (or a system job) may do it.
   */
  async erasePatient(principal: Principal, patientId: string): Promise<{ resources: number }> {
    const account = await this.patientAccount(patientId);
    const self = account !== undefined && principal.account.toLowerCase() === account.toLowerCase();
    if (!self && principal.kind !== "system") {
      await this.#audit(principal, {
        action: "erase",
        decision: "deny",
        patient: auditPatient(patientId, account),
        reason: "only the patient may erase",
      });
      throw new BaseError("forbidden", "only the patient may erase their record");
    }
    const patient = auditPatient(patientId, account);
    // The entry is durable before the change (docs/access-rules.md, "Audit before commit").
    await this.#audit(principal, { action: "erase", decision: "permit", patient, reason: "intent" });
    crashPoint("erase:after-intent");
    let count: number;
    try {
      await this.#d.keyring.erase(`Patient/${patientId}`);
      if (account) await this.#d.breakGlass?.forgetPatient(account);
      count = await this.#vault.rows.erasePatient(patientId, await this.#atRest(patientId, account));
    } catch (error) {
      await this.#audit(principal, { action: "erase", decision: "permit", patient, reason: "not committed" });
      throw error;
    }
    crashPoint("erase:after-commit");
    await this.#audit(principal, {
      action: "erase",
      decision: "permit",
      patient,
      reason: `committed: crypto-shredded ${count} resources`,
    });
    this.#d.events.emit("patient.erased", { patientId, patientAccount: account });
    return { resources: count };
  }

  /** What the erasure's transaction removes besides the records (src/store/erasureRows.ts). */
  async #atRest(patientId: string, account: string | undefined): Promise<ErasureAtRest | undefined> {
    const audit = this.#d.auditEntries;
    if (audit === undefined) return undefined;
    return erasureAtRest(audit, patientId, account);
  }

  async #write(
    principal: Principal,
    resource: FhirResource,
    intent: "create" | "update",
    ifMatch?: number,
  ): Promise<FhirResource> {
    const prepared = await prepareWrite(this.#prepare, principal, resource, intent);
    checkVersion(ifMatch, prepared.previous ? prepared.versionId - 1 : 0);
    await this.#commit(principal, prepared);
    return prepared.stored;
  }

  /** Commits one prepared write between its intent and its outcome entries. */
  async #commit(principal: Principal, prepared: PreparedWrite): Promise<void> {
    await this.#intend(principal, [prepared]);
    try {
      await this.#d.store.db.transaction().execute((tx) => persistWrite(tx, prepared));
    } catch (error) {
      await this.#outcome(principal, [prepared], false);
      // another write took this version number first
      if (isUniqueViolation(this.#d.store.dialect, error))
        throw new BaseError("conflict", "the resource changed during this write: read it and try again", {
          cause: error,
        });
      throw error;
    }
    crashPoint("write:after-commit");
    this.#vault.rows.changed(prepared.type, prepared.id);
    await this.#finish(principal, prepared);
  }

  /**
   * The intent entries of writes about to be committed, awaited until durable: no change is
   * committed without its entry (docs/access-rules.md, "Audit before commit").
   */
  async #intend(principal: Principal, writes: readonly PreparedWrite[]): Promise<void> {
    await Promise.all(writes.map((p) => this.#audit(principal, this.#writeFacts(p, "intent"))));
    crashPoint("write:after-intent");
  }

  /** The outcome entries that complete the intents of writes whose transaction failed. */
  async #outcome(principal: Principal, writes: readonly PreparedWrite[], committed: boolean): Promise<void> {
    const reason = committed ? "committed" : "not committed";
    await Promise.all(writes.map((p) => this.#audit(principal, this.#writeFacts(p, reason))));
  }

  #writeFacts(p: PreparedWrite, reason: string): AuditFacts {
    return {
      action: p.deleted ? "delete" : p.previous ? "update" : "create",
      decision: "permit",
      patient: auditPatient(p.patientId, p.account),
      resources: [`${p.type}/${p.id}/_history/${p.versionId}`],
      categories: p.categories,
      reason,
    };
  }

  /**
   * Imports a FHIR transaction/batch/collection Bundle as Synthea writes them (references between
   * entries resolved). All or nothing: every entry is validated, authorized and encrypted first,
   * then everything is written in one database transaction.
   * @param options - `patientAccount` links the bundle's Patient to the patient's ledger account
   */
  async importBundle(
    principal: Principal,
    input: unknown,
    options: { patientAccount?: Address | undefined } = {},
  ): Promise<FhirResource> {
    const chooses = this.#choosesIds(principal);
    const plan = planBundleImport(input, {
      serverIds: !chooses,
      serverIdFor: this.#serverIdFor(principal),
      conditional: await this.#conditionalEntries(principal, input),
    });
    const prepared: PreparedWrite[] = [];
    const versions = new Map<string, CurrentVersion>();
    const unchanged: string[] = [];
    try {
      for (const entry of plan.entries) {
        if (entry.matched) {
          // a conditional create that found its resource: nothing to write
          const current = await this.#vault.currentVersion(entry.resource.resourceType, entry.resource.id!);
          unchanged.push(
            `${entry.resource.resourceType}/${entry.resource.id}/_history/${current?.versionId ?? 1}`,
          );
          continue;
        }
        let resource = entry.resource;
        if (resource.resourceType === "Patient" && options.patientAccount) {
          resource = withAccount(resource, options.patientAccount);
        }
        const key = `${resource.resourceType}/${resource.id}`;
        if (!versions.has(key) && (await this.#reimported(principal, resource))) {
          unchanged.push(
            `${key}/_history/${(await this.#vault.currentVersion(resource.resourceType, resource.id!))?.versionId ?? 1}`,
          );
          continue;
        }
        // a PUT entry of a caller that does not choose ids updates an existing resource
        const intent = entry.method === "PUT" && !chooses ? "update" : "import";
        const p = await prepareWrite(this.#prepare, principal, resource, intent, versions.get(key));
        versions.set(key, {
          versionId: p.versionId,
          patientId: p.patientId ?? null,
          categories: p.mask,
          authorOrg: p.authorOrg,
        });
        prepared.push(p);
        // later entries of this bundle belong to the patient whose account it names
        if (p.type === "Patient" && p.account && !this.#links.cached(p.id))
          this.#links.remember(p.id, p.account);
      }
    } catch (error) {
      // nothing of a failed bundle stays, not even the links its Patient claimed in memory
      for (const p of prepared) if (p.type === "Patient") this.#links.forget(p.id);
      throw error;
    }
    try {
      await this.#intend(principal, prepared);
    } catch (error) {
      for (const p of prepared) if (p.type === "Patient") this.#links.forget(p.id);
      throw error;
    }
    try {
      await this.#d.store.db.transaction().execute(async (tx) => {
        for (const p of prepared) await persistWrite(tx, p);
      });
    } catch (error) {
      for (const p of prepared) if (p.type === "Patient") this.#links.forget(p.id);
      await this.#outcome(principal, prepared, false);
      throw error;
    }
    crashPoint("write:after-commit");
    for (const p of prepared) this.#vault.rows.changed(p.type, p.id);
    for (const p of prepared) await this.#finish(principal, p);
    return {
      resourceType: "Bundle",
      type: "transaction-response",
      entry: [
        ...prepared.map((p) => ({
          response: {
            status: p.previous ? "200 OK" : "201 Created",
            location: `${p.type}/${p.id}/_history/${p.versionId}`,
          },
        })),
        ...unchanged.map((location) => ({ response: { status: "200 OK", location } })),
      ],
    };
  }

  /**
   * Whether a bundle entry repeats, unchanged, the current version the same writer stored (a
   * re-import of the same source entry lands on the same id: the source's id, or the server id
   * derived from it). Then nothing is written, so a re-import needs only the right to create the
   * entry, as the first import did, not the right to read or amend what is stored (a sensitive
   * record, say); and since only the writer's own version is compared, the answer tells nobody
   * anything they did not write. Audited in the patient's log.
   */
  async #reimported(principal: Principal, resource: FhirResource): Promise<boolean> {
    const row = await this.#vault.rows.current(resource.resourceType, resource.id!);
    if (!row || row.deleted || !row.blob) return false;
    const patientId = patientOf(resource);
    if ((row.patient_id ?? undefined) !== patientId) return false;
    const author = await this.#vault.rows.authorOf(row);
    if (author !== principal.account.toLowerCase()) return false;
    if (patientId !== undefined && (await this.#d.keyring.isErased(`Patient/${patientId}`))) return false;
    const { meta: _stored, ...stored } = await this.#vault.open(row);
    const { meta: _given, ...given } = resource;
    if (canonicalJson(stored) !== canonicalJson(given)) return false;
    // the right a first import needed: to create this entry as new (refusals audited there)
    const prepared = await prepareWrite(this.#prepare, principal, resource, "import", undefined, {
      asNew: true,
    });
    await this.#audit(principal, {
      ...this.#writeFacts(prepared, "unchanged: the writer's own version, imported again"),
      resources: [`${prepared.type}/${prepared.id}/_history/${row.version_id}`],
    });
    return true;
  }

  /**
   * The ids of a caller that may not choose them, for bundle entries whose source names an id
   * (src/records/bundlePlan.ts `serverIdFor`): a keyed hash of the caller's organization (or
   * account), the type and the source id, shaped as a UUID. The same source entry imported again
   * by the same organization lands on the same id (an update); nobody can aim an id at a resource
   * they did not import, since the key is the node's (docs/access-rules.md, "Ids").
   */
  #serverIdFor(principal: Principal): (type: string, given: string) => string {
    const scope = (principal.organization ?? principal.account).toLowerCase();
    return (type, given) => {
      const hex = Buffer.from(
        this.#d.blind.token(`carechain/import-id/v1|${scope}|${type}|${given}`),
        "base64url",
      )
        .toString("hex")
        .slice(0, 32);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    };
  }

  /**
   * The bundle's conditional entries resolved against what the principal may see: a POST's
   * `ifNoneExist` and a PUT to `Type?query` (https://hl7.org/fhir/R4/http.html#trules).
   */
  async #conditionalEntries(principal: Principal, input: unknown): Promise<ConditionalMatches> {
    const existing = new Map<number, string>();
    const updates = new Map<number, string>();
    const entries = (input as { entry?: unknown } | null)?.entry;
    if (!Array.isArray(entries)) return { existing, updates };
    for (const [index, entry] of entries.entries()) {
      const e = entry as { resource?: { resourceType?: unknown }; request?: Record<string, unknown> } | null;
      const type = e?.resource?.resourceType;
      const request = e?.request;
      if (typeof type !== "string" || !isSupportedType(type) || request === undefined) continue;
      const where = `Bundle.entry[${index}].request`;
      if (request.method === "POST" && typeof request.ifNoneExist === "string") {
        const ids = await this.#matches(principal, type, request.ifNoneExist, `${where}.ifNoneExist`);
        if (ids.length > 1)
          throw new BaseError("precondition", `${where}.ifNoneExist matches more than one resource`, {
            expression: `${where}.ifNoneExist`,
          });
        if (ids[0] !== undefined) existing.set(index, ids[0]);
      } else if (request.method === "PUT" && typeof request.url === "string" && request.url.includes("?")) {
        const [path = "", query = ""] = request.url.split("?", 2);
        if (path !== type)
          throw new BaseError("invalid", `${where}.url must name the entry's resource type`, {
            expression: `${where}.url`,
          });
        const ids = await this.#matches(principal, type, query, `${where}.url`);
        if (ids.length > 1)
          throw new BaseError("precondition", `${where}.url matches more than one resource`, {
            expression: `${where}.url`,
          });
        if (ids[0] !== undefined) updates.set(index, ids[0]);
      }
    }
    return { existing, updates };
  }

  async #finish(principal: Principal, p: PreparedWrite): Promise<void> {
    if (p.type === "Patient" && p.account) this.#links.remember(p.id, p.account);
    await this.#audit(principal, this.#writeFacts(p, "committed"));
    this.#d.events.emit("record.stored", {
      type: p.type,
      id: p.id,
      versionId: p.versionId,
      patientId: p.patientId,
      patientAccount: p.account,
      categories: p.categories,
    });
  }

  async #audit(principal: Principal, facts: AuditFacts): Promise<void> {
    await this.#d.auditor.record(principal, facts);
  }
}
