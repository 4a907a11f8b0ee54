import { randomUUID } from "node:crypto";
import type { Address, Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { BreakGlassSessions } from "../consent/breakGlass.js";
import type { ConsentGate, PatientDecider } from "../consent/consentGate.js";
import type { Decision } from "../consent/decide.js";
import { categoriesOf, type Category } from "../model/vocabulary.js";
import { decryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import type { EventBus } from "../events/eventBus.js";
import type { Store } from "../store/database.js";
import type { BlindIndex } from "./blindIndex.js";
import type { FhirResource } from "./fhirTypes.js";
import { auditPatient, type AuditFacts, type Auditor } from "../audit/auditor.js";
import { validateResource } from "./validateResource.js";
import { RecordSearch } from "./recordSearch.js";
import { directoryDecision, isOperator, isRecorder, notKnown } from "./accessDecision.js";
import { crashPoint } from "./crashPoint.js";
import { STORED_VERSION_COLUMNS, type StoredVersion } from "./recordSearchSql.js";
import { planBundleImport } from "./bundlePlan.js";
import { eraseRows } from "./eraseRows.js";
import { PatientLinks } from "./patientLinks.js";
import { WriteAuthorizer } from "./writeAuthorizer.js";
import { prepareWrite, type CurrentVersion, type PrepareHost } from "./recordPrepare.js";
import { CurrentRowCache } from "./currentRowCache.js";
import {
  DIRECTORY_KEY,
  DIRECTORY_TYPES,
  persistWrite,
  withAccount,
  type PreparedWrite,
} from "./recordWrite.js";

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
  /** Patient links, shared with whoever follows other processes' changes (a private cache when absent). */
  links?: PatientLinks;
}

/**
 * The one way to read or write health data. Every operation asks the consent gate and appends
 * its audit entry here, whoever calls it (HTTP route, CLI, another node), so no path can forget
 * either. Resources are stored as envelope-encrypted canonical JSON, one row per version.
 */
export class RecordRepository {
  readonly #d: RecordRepositoryDeps;
  readonly #links: PatientLinks;
  readonly #prepareHost: PrepareHost;
  readonly #rows: CurrentRowCache | undefined;

  readonly #search: RecordSearch;

  constructor(deps: RecordRepositoryDeps) {
    this.#d = deps;
    this.#links = deps.links ?? new PatientLinks(deps.store);
    const writes = new WriteAuthorizer({ ...deps, links: this.#links });
    this.#prepareHost = {
      store: deps.store,
      keyring: deps.keyring,
      blind: deps.blind,
      links: this.#links,
      authorize: (principal, target) => writes.authorize(principal, target),
    };
    this.#rows = deps.store.sqlite === undefined ? undefined : new CurrentRowCache(deps.store.sqlite);
    this.#search = new RecordSearch({
      store: deps.store,
      blind: deps.blind,
      gate: deps.gate,
      patientAccount: (patientId) => this.patientAccount(patientId),
      patientIdsOf: (account) => this.patientIdsOf(account),
      read: (principal, type, id) => this.read(principal, type, id),
      open: (row) => this.#open(row),
      audit: (principal, facts) => this.#audit(principal, facts),
    });
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
    const row = this.#currentRowSync(type, id) ?? (await this.#currentRow(type, id));
    if (!row) throw notKnown(type);
    return this.#gatedOpen(principal, row, "read");
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
    const row = this.#currentRowSync(type, id) ?? (await this.#currentRow(type, id));
    if (!row) throw notKnown(type);
    await this.#gate(principal, row, "read");
    return { text: await this.#openText(row), versionId: row.version_id };
  }

  /**
   * The hot read's row on SQLite, synchronously (src/records/currentRowCache.ts): null when not on
   * SQLite or when it must wait for the connection, and the caller then takes the Kysely path.
   */
  #currentRowSync(type: string, id: string): StoredVersion | undefined | null {
    return this.#rows === undefined ? null : this.#rows.get(type, id);
  }

  async #currentRow(type: string, id: string): Promise<StoredVersion | undefined> {
    return await this.#d.store.db
      .selectFrom("resources as r")
      .innerJoin("resource_versions as v", (j) =>
        j
          .onRef("v.type", "=", "r.type")
          .onRef("v.id", "=", "r.id")
          .onRef("v.version_id", "=", "r.version_id"),
      )
      .select([
        "r.type",
        "r.id",
        "r.version_id",
        "r.patient_id",
        "r.categories",
        "r.author_org",
        "r.last_updated",
        "r.deleted",
        "v.blob",
      ])
      .where("r.type", "=", type)
      .where("r.id", "=", id)
      .executeTakeFirst();
  }

  /** Reads one version of `type/id`. */
  async vread(principal: Principal, type: string, id: string, versionId: number): Promise<FhirResource> {
    const row = await this.#d.store.db
      .selectFrom("resource_versions")
      .select(STORED_VERSION_COLUMNS)
      .where("type", "=", type)
      .where("id", "=", id)
      .where("version_id", "=", versionId)
      .executeTakeFirst();
    if (!row) throw notKnown(type);
    return this.#gatedOpen(principal, row, "read");
  }

  /** Every version of `type/id` the principal may see, newest first, as a FHIR history Bundle. */
  async history(principal: Principal, type: string, id: string): Promise<FhirResource> {
    const rows = await this.#d.store.db
      .selectFrom("resource_versions")
      .select(STORED_VERSION_COLUMNS)
      .where("type", "=", type)
      .where("id", "=", id)
      .orderBy("version_id", "desc")
      .execute();
    if (rows.length === 0) throw notKnown(type);
    // Each version is decided by its own patient and categories, and audited in that patient's log.
    const deciders = new Map<string, PatientDecider>();
    const allowed: StoredVersion[] = [];
    const byPatient = new Map<
      string,
      { allowed: number; seen: number; denied?: Decision; categories: Set<Category> }
    >();
    for (const row of rows) {
      const key = row.patient_id ?? "";
      let decider = deciders.get(key);
      if (decider === undefined) {
        decider = this.#d.gate.forPatient(principal, await this.patientAccount(row.patient_id), "read");
        deciders.set(key, decider);
      }
      const erased = row.patient_id !== null && (await this.#d.keyring.isErased(`Patient/${row.patient_id}`));
      const d: Decision = erased
        ? { permit: false, reason: "no-grant" }
        : row.patient_id
          ? decider.decide(categoriesOf(row.categories), row.author_org)
          : directoryDecision(principal);
      const tally = byPatient.get(key) ?? { allowed: 0, seen: 0, categories: new Set<Category>() };
      tally.seen++;
      for (const c of categoriesOf(row.categories)) tally.categories.add(c);
      if (d.permit) {
        allowed.push(row);
        tally.allowed++;
      } else tally.denied ??= d;
      byPatient.set(key, tally);
    }
    for (const [patientId, tally] of byPatient) {
      await this.#audit(principal, {
        action: "read",
        decision: tally.allowed ? "permit" : "deny",
        patient: auditPatient(patientId || undefined, deciders.get(patientId)?.patientAccount),
        resources: [`${type}/${id}`],
        categories: [...tally.categories],
        reason: tally.allowed
          ? `history: ${tally.allowed} of ${tally.seen} versions`
          : `history: ${tally.denied?.reason ?? "no-grant"}`,
      });
    }
    if (allowed.length === 0) throw notKnown(type);
    const entries = [];
    for (const row of allowed) {
      const resource = row.deleted ? undefined : await this.#open(row);
      entries.push({
        fullUrl: `${type}/${id}`,
        ...(resource ? { resource } : {}),
        request: {
          method: row.deleted ? "DELETE" : row.version_id === 1 ? "POST" : "PUT",
          url: `${type}/${id}`,
        },
        response: {
          status: row.deleted ? "204" : row.version_id === 1 ? "201" : "200",
          lastModified: new Date(row.last_updated).toISOString(),
        },
      });
    }
    return { resourceType: "Bundle", type: "history", total: entries.length, entry: entries };
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
      count = await eraseRows(this.#d.store.db, patientId);
    } catch (error) {
      this.#rows?.clear();
      await this.#audit(principal, { action: "erase", decision: "permit", patient, reason: "not committed" });
      throw error;
    }
    crashPoint("erase:after-commit");
    this.#rows?.clear();
    await this.#audit(principal, {
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
  ): Promise<FhirResource> {
    const prepared = await prepareWrite(this.#prepareHost, principal, resource, intent);
    await this.#intend(principal, [prepared]);
    try {
      await this.#d.store.db.transaction().execute((tx) => persistWrite(tx, prepared));
    } catch (error) {
      await this.#outcome(principal, [prepared], false);
      throw error;
    }
    crashPoint("write:after-commit");
    this.#rows?.invalidate(prepared.type, prepared.id);
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
        const p = await prepareWrite(this.#prepareHost, principal, resource, intent, versions.get(key));
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
    for (const p of prepared) this.#rows?.invalidate(p.type, p.id);
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

  async #gatedOpen(principal: Principal, row: StoredVersion, action: "read"): Promise<FhirResource> {
    await this.#gate(principal, row, action);
    return this.#open(row);
  }

  /** The consent decision and audit entry of one read; throws when the principal may not see it. */
  async #gate(principal: Principal, row: StoredVersion, action: "read"): Promise<void> {
    const ref = `${row.type}/${row.id}`;
    const account = await this.patientAccount(row.patient_id);
    const categories = categoriesOf(row.categories);
    const erased = row.patient_id !== null && (await this.#d.keyring.isErased(`Patient/${row.patient_id}`));
    if (erased) throw notKnown(row.type);
    const decision = row.patient_id
      ? this.#d.gate.forPatient(principal, account, action).decide(categories, row.author_org)
      : directoryDecision(principal);
    await this.#audit(principal, {
      action: decision.permit ? (decision.breakGlass ? "break-glass" : "read") : "deny",
      decision: decision.permit ? "permit" : "deny",
      patient: auditPatient(row.patient_id, account),
      resources: [`${ref}/_history/${row.version_id}`],
      categories,
      reason: decision.reason,
    });
    if (decision.breakGlass && account)
      this.#d.events.emit("patient.alert", {
        account,
        kind: "break-glass-read",
        detail: { resource: ref, by: principal.account },
      });
    if (!decision.permit) throw notKnown(row.type);
    if (row.deleted) throw new BaseError("not-found", `this ${row.type} was deleted`);
  }

  async #open(row: StoredVersion): Promise<FhirResource> {
    return JSON.parse(await this.#openText(row)) as FhirResource;
  }

  /** The stored canonical JSON (RFC 8785) of one version, decrypted. */
  async #openText(row: StoredVersion): Promise<string> {
    if (!row.blob) throw new BaseError("not-found", `${row.type}/${row.id} has no content`);
    const keyId = row.patient_id ? `Patient/${row.patient_id}` : DIRECTORY_KEY;
    const plain = await decryptRecord(
      this.#d.keyring,
      keyId,
      row.blob,
      `${row.type}/${row.id}/_history/${row.version_id}`,
    );
    return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength).toString("utf8");
  }

  async #audit(principal: Principal, facts: AuditFacts): Promise<void> {
    await this.#d.auditor.record(principal, facts);
  }
}
