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
import { auditPatient, type Auditor } from "../audit/auditor.js";
import type { AuditLog } from "../audit/auditLog.js";
import { erasureAtRest } from "./erasureAtRest.js";
import { validateResource } from "./validateResource.js";
import { RecordSearch } from "./recordSearch.js";
import { isOperator, isRecorder, notKnown } from "./accessDecision.js";
import { crashPoint } from "./crashPoint.js";
import { WriteJournal } from "./writeJournal.js";
import { reimportedVersion } from "./reimport.js";
import { planBundleImport } from "./bundlePlan.js";
import {
  checkVersion,
  conditionalEntries,
  conditionParams,
  oneMatch,
  serverIdFor,
  type WriteConditions,
} from "./conditionalWrites.js";
import { PatientLinks } from "./patientLinks.js";
import { WriteAuthorizer } from "./writeAuthorizer.js";
import { prepareDelete, prepareWrite, type PrepareDeps } from "./recordPrepare.js";
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
  readonly #journal: WriteJournal;

  constructor(deps: RecordRepositoryDeps) {
    this.#d = deps;
    const links = (this.#links = deps.links ?? new PatientLinks(deps.store));
    const vault = (this.#vault = new RecordVault(new RecordRows(deps.store), deps.keyring));
    this.#gate = new RecordGate({ ...deps, links, vault });
    const writes = new WriteAuthorizer({ ...deps, links });
    this.#prepare = { keyring: deps.keyring, blind: deps.blind, links, vault, writes };
    this.#search = new RecordSearch({ store: deps.store, blind: deps.blind, links, gate: this.#gate, vault });
    this.#journal = new WriteJournal(deps.auditor, deps.events, links);
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
    const found = await this.#match(principal, resource.resourceType, query, "If-None-Exist");
    if (found !== undefined)
      return { resource: await this.read(principal, resource.resourceType, found), created: false };
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
    const id = await this.#match(principal, type, query, "query");
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
   * The one resource of `type` that a conditional request's `query` matches among what the
   * principal may see (412 for several). Nothing is opened or audited here: the read or write
   * that follows is.
   */
  async #match(
    principal: Principal,
    type: string,
    query: string,
    where: string,
  ): Promise<string | undefined> {
    return oneMatch(await this.#search.matchIds(principal, type, conditionParams(query, where)), where);
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
    const patient = auditPatient(patientId, account);
    if (!self && principal.kind !== "system") {
      await this.#d.auditor.record(principal, {
        action: "erase",
        decision: "deny",
        patient,
        reason: "only the patient may erase",
      });
      throw new BaseError("forbidden", "only the patient may erase their record");
    }
    // The entry is durable before the change (docs/access-rules.md, "Audit before commit").
    await this.#d.auditor.record(principal, {
      action: "erase",
      decision: "permit",
      patient,
      reason: "intent",
    });
    crashPoint("erase:after-intent");
    let count: number;
    try {
      await this.#d.keyring.erase(`Patient/${patientId}`);
      if (account) await this.#d.breakGlass?.forgetPatient(account);
      const audit = this.#d.auditEntries;
      const atRest = audit === undefined ? undefined : await erasureAtRest(audit, patientId, account);
      count = await this.#vault.rows.erasePatient(patientId, atRest);
    } catch (error) {
      await this.#d.auditor.record(principal, {
        action: "erase",
        decision: "permit",
        patient,
        reason: "not committed",
      });
      throw error;
    }
    crashPoint("erase:after-commit");
    await this.#d.auditor.record(principal, {
      action: "erase",
      decision: "permit",
      patient,
      reason: `committed: crypto-shredded ${count} resources`,
    });
    this.#d.events.emit("patient.erased", { patientId, patientAccount: account });
    return { resources: count };
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
    await this.#journal.intend(principal, [prepared]);
    try {
      await this.#d.store.db.transaction().execute((tx) => persistWrite(tx, prepared));
    } catch (error) {
      await this.#journal.failed(principal, [prepared]);
      // another write took this version number first
      if (isUniqueViolation(this.#d.store.dialect, error))
        throw new BaseError("conflict", "the resource changed during this write: read it and try again", {
          cause: error,
        });
      throw error;
    }
    crashPoint("write:after-commit");
    this.#vault.rows.changed(prepared.type, prepared.id);
    await this.#journal.committed(principal, prepared);
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
      serverIdFor: serverIdFor(this.#d.blind, principal),
      conditional: await conditionalEntries(input, (type, query, where) =>
        this.#match(principal, type, query, where),
      ),
    });
    const prepared: PreparedWrite[] = [];
    const versions = new Map<string, CurrentVersion>();
    const unchanged: string[] = [];
    try {
      for (const entry of plan.entries) {
        let resource = entry.resource;
        if (resource.resourceType === "Patient" && options.patientAccount) {
          resource = withAccount(resource, options.patientAccount);
        }
        const key = `${resource.resourceType}/${resource.id}`;
        // a conditional create that found its resource, or the writer's own version again
        const same = entry.matched
          ? `${key}/_history/${(await this.#vault.currentVersion(resource.resourceType, resource.id!))?.versionId ?? 1}`
          : versions.has(key)
            ? undefined
            : await reimportedVersion(this.#prepare, this.#journal, principal, resource);
        if (same !== undefined) {
          unchanged.push(same);
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
      await this.#journal.intend(principal, prepared);
      try {
        await this.#d.store.db.transaction().execute(async (tx) => {
          for (const p of prepared) await persistWrite(tx, p);
        });
      } catch (error) {
        await this.#journal.failed(principal, prepared);
        throw error;
      }
    } catch (error) {
      // nothing of a failed bundle stays, not even the links its Patient claimed in memory
      for (const p of prepared) if (p.type === "Patient") this.#links.forget(p.id);
      throw error;
    }
    crashPoint("write:after-commit");
    for (const p of prepared) this.#vault.rows.changed(p.type, p.id);
    for (const p of prepared) await this.#journal.committed(principal, p);
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
}
