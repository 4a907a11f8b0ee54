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
import { planBundleImport } from "./bundlePlan.js";
import { PatientLinks } from "./patientLinks.js";
import { WriteAuthorizer } from "./writeAuthorizer.js";
import { prepareWrite, type PrepareDeps } from "./recordPrepare.js";
import { RecordGate } from "./recordGate.js";
import { RecordVault, type CurrentVersion } from "./recordVault.js";
import { historyBundle } from "./searchBundle.js";
import { DIRECTORY_TYPES, persistWrite, withAccount, type PreparedWrite } from "./recordWrite.js";

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
  async update(principal: Principal, type: string, id: string, input: unknown): Promise<FhirResource> {
    const resource = validateResource(input);
    if (resource.resourceType !== type)
      throw new BaseError("invalid", `resourceType must be ${type}`, { expression: "resourceType" });
    if (resource.id !== undefined && resource.id !== id)
      throw new BaseError("invalid", "resource id does not match the URL", { expression: `${type}.id` });
    return this.#write(principal, { ...resource, id }, "update");
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
  ): Promise<FhirResource> {
    return this.#search.search(principal, type, params, baseUrl);
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
  ): Promise<FhirResource> {
    const prepared = await prepareWrite(this.#prepare, principal, resource, intent);
    await this.#intend(principal, [prepared]);
    try {
      await this.#d.store.db.transaction().execute((tx) => persistWrite(tx, prepared));
    } catch (error) {
      await this.#outcome(principal, [prepared], false);
      throw error;
    }
    crashPoint("write:after-commit");
    this.#vault.rows.changed(prepared.type, prepared.id);
    await this.#finish(principal, prepared);
    return prepared.stored;
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
      action: p.previous ? "update" : "create",
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
    const plan = planBundleImport(input, { serverIds: !chooses });
    const prepared: PreparedWrite[] = [];
    const versions = new Map<string, CurrentVersion>();
    try {
      for (const entry of plan.entries) {
        let resource = entry.resource;
        if (resource.resourceType === "Patient" && options.patientAccount) {
          resource = withAccount(resource, options.patientAccount);
        }
        const key = `${resource.resourceType}/${resource.id}`;
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
      entry: prepared.map((p) => ({
        response: {
          status: p.previous ? "200 OK" : "201 Created",
          location: `${p.type}/${p.id}/_history/${p.versionId}`,
        },
      })),
    };
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
