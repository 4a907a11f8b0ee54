import { randomUUID } from "node:crypto";
import type { Address, Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { ConsentGate } from "../consent/consentGate.js";
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
import { directoryDecision, forbiddenFor } from "./accessDecision.js";
import { STORED_VERSION_COLUMNS, type StoredVersion } from "./recordSearchSql.js";
import { planBundleImport } from "./bundlePlan.js";
import { PatientLinks } from "./patientLinks.js";
import { prepareWrite, type PrepareHost } from "./recordPrepare.js";
import { CurrentRowCache } from "./currentRowCache.js";
import { DIRECTORY_KEY, persistWrite, withAccount, type PreparedWrite } from "./recordWrite.js";

export interface RecordRepositoryDeps {
  store: Store;
  keyring: PatientKeyring;
  gate: ConsentGate;
  auditor: Auditor;
  blind: BlindIndex;
  events: EventBus;
  /** This node's organization id: the author of everything written here. */
  organizationId: Hex;
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
    this.#links = new PatientLinks(deps.store);
    this.#prepareHost = {
      store: deps.store,
      keyring: deps.keyring,
      blind: deps.blind,
      links: this.#links,
      organizationId: deps.organizationId,
      authorize: (principal, patientId, account, categories, ref) =>
        this.#authorizeWrite(principal, patientId, account, categories, ref),
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

  /** Creates a resource with a server-assigned id (or the given id when it is new). */
  async create(principal: Principal, input: unknown): Promise<FhirResource> {
    const resource = validateResource(input);
    const id = resource.id ?? randomUUID();
    return this.#write(principal, { ...resource, id });
  }

  /** Creates or updates `type/id` (FHIR update; create-on-update allowed). */
  async update(principal: Principal, type: string, id: string, input: unknown): Promise<FhirResource> {
    const resource = validateResource(input);
    if (resource.resourceType !== type)
      throw new BaseError("invalid", `resourceType must be ${type}`, { expression: "resourceType" });
    if (resource.id !== undefined && resource.id !== id)
      throw new BaseError("invalid", "resource id does not match the URL", { expression: `${type}.id` });
    return this.#write(principal, { ...resource, id });
  }

  /** Reads the current version of `type/id`. */
  async read(principal: Principal, type: string, id: string): Promise<FhirResource> {
    const row = this.#currentRowSync(type, id) ?? (await this.#currentRow(type, id));
    if (!row) throw new BaseError("not-found", `${type}/${id} is not known`);
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
    if (!row) throw new BaseError("not-found", `${type}/${id} is not known`);
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
    if (!row) throw new BaseError("not-found", `${type}/${id}/_history/${versionId} is not known`);
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
    if (rows.length === 0) throw new BaseError("not-found", `${type}/${id} is not known`);
    const first = rows[0]!;
    const account = await this.patientAccount(first.patient_id);
    const decider = this.#d.gate.forPatient(principal, account, "read");
    const allowed: StoredVersion[] = [];
    let denied: Decision | undefined;
    for (const row of rows) {
      const d = decider.decide(categoriesOf(row.categories), row.author_org);
      if (d.permit) allowed.push(row);
      else denied ??= d;
    }
    await this.#audit(principal, {
      action: "read",
      decision: allowed.length ? "permit" : "deny",
      patient: auditPatient(first.patient_id, account),
      resources: [`${type}/${id}`],
      categories: categoriesOf(first.categories),
      reason: allowed.length ? `history: ${allowed.length} of ${rows.length} versions` : denied?.reason,
    });
    if (allowed.length === 0) throw forbiddenFor(denied);
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
    await this.#d.keyring.erase(`Patient/${patientId}`);
    const { db } = this.#d.store;
    const count = await db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom("resources")
        .select(["type", "id"])
        .where("patient_id", "=", patientId)
        .execute();
      for (const r of rows)
        await tx.deleteFrom("search_tokens").where("type", "=", r.type).where("id", "=", r.id).execute();
      await tx.updateTable("resources").set({ deleted: 1 }).where("patient_id", "=", patientId).execute();
      return rows.length;
    });
    this.#rows?.clear();
    await this.#audit(principal, {
      action: "erase",
      decision: "permit",
      patient: auditPatient(patientId, account),
      reason: `crypto-shredded ${count} resources`,
    });
    this.#d.events.emit("patient.erased", { patientId, patientAccount: account });
    return { resources: count };
  }

  async #write(principal: Principal, resource: FhirResource): Promise<FhirResource> {
    const prepared = await prepareWrite(this.#prepareHost, principal, resource);
    await this.#d.store.db.transaction().execute((tx) => persistWrite(tx, prepared, this.#d.organizationId));
    this.#rows?.invalidate(prepared.type, prepared.id);
    await this.#finish(principal, prepared);
    return prepared.stored;
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
    const plan = planBundleImport(input);
    const prepared: PreparedWrite[] = [];
    const versions = new Map<string, number>();
    try {
      for (const entry of plan.entries) {
        let resource = entry.resource;
        if (resource.resourceType === "Patient" && options.patientAccount) {
          resource = withAccount(resource, options.patientAccount);
        }
        const key = `${resource.resourceType}/${resource.id}`;
        const p = await prepareWrite(this.#prepareHost, principal, resource, versions.get(key));
        versions.set(key, p.versionId);
        prepared.push(p);
        // later entries of this bundle belong to the patient whose account it names
        if (p.type === "Patient" && p.account && !this.#links.cached(p.id))
          this.#links.remember(p.id, p.account);
      }
      await this.#d.store.db.transaction().execute(async (tx) => {
        for (const p of prepared) await persistWrite(tx, p, this.#d.organizationId);
      });
      for (const p of prepared) this.#rows?.invalidate(p.type, p.id);
    } catch (error) {
      // nothing of a failed bundle stays, not even the links its Patient claimed in memory
      for (const p of prepared) if (p.type === "Patient") this.#links.forget(p.id);
      throw error;
    }
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
    await this.#audit(principal, {
      action: p.previous ? "update" : "create",
      decision: "permit",
      patient: auditPatient(p.patientId, p.account),
      resources: [`${p.type}/${p.id}/_history/${p.versionId}`],
      categories: p.categories,
    });
    this.#d.events.emit("record.stored", {
      type: p.type,
      id: p.id,
      versionId: p.versionId,
      patientId: p.patientId,
      patientAccount: p.account,
      categories: p.categories,
    });
  }

  async #authorizeWrite(
    principal: Principal,
    patientId: string | undefined,
    account: Address | undefined,
    categories: Category[],
    ref: string,
  ): Promise<void> {
    if (principal.kind === "system" || principal.kind === "node") return;
    if (
      principal.kind === "practitioner" &&
      principal.organization?.toLowerCase() === this.#d.organizationId.toLowerCase()
    )
      return;
    if (patientId === undefined) {
      if (principal.kind === "practitioner") return;
    } else {
      const d = this.#d.gate.forPatient(principal, account, "write").decide(categories, undefined);
      if (d.permit) return;
      await this.#audit(principal, {
        action: "create",
        decision: "deny",
        patient: auditPatient(patientId, account),
        resources: [ref],
        categories,
        reason: d.reason,
      });
      throw forbiddenFor(d);
    }
    throw new BaseError("forbidden", "not allowed to write here");
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
    if (row.patient_id && (await this.#d.keyring.isErased(`Patient/${row.patient_id}`))) {
      throw new BaseError("not-found", "the patient's data was erased");
    }
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
    if (!decision.permit) throw forbiddenFor(decision);
    if (row.deleted) throw new BaseError("not-found", `${ref} was deleted`);
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
