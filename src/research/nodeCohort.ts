/**
 * The cohort index over this node's own patients (cohortIndex.ts), kept in the node's memory: built
 * at the first match by opening each linked patient's current Patient, Condition, Observation and
 * medication resources once, then kept fresh by the records room's events (a stored resource or an
 * erasure marks its patient, whose profile is rebuilt before the next match). Nothing of it leaves
 * the node: the researcher only ever sees a differentially private count of a match.
 *
 * Writes made by another API process of the same node reach this index at its next full rebuild
 * (`rebuild()`, or a restart); a single-process node sees every write.
 */
import type { PatientKeyring } from "../crypto/patientKeys.js";
import type { EventBus } from "../events/eventBus.js";
import type { FhirResource } from "../records/fhirTypes.js";
import { RecordVault, keyIdOf } from "../records/recordVault.js";
import type { Store } from "../store/database.js";
import { RecordRows } from "../store/recordRows.js";
import { CohortIndex } from "./cohortIndex.js";
import { profileOf } from "./cohortProfile.js";
import type { Criterion } from "./studyDefinition.js";

const TYPES = ["Patient", "Condition", "Observation", "MedicationRequest", "MedicationStatement"];
const CHUNK = 200;

export class NodeCohort {
  readonly #store: Store;
  readonly #keyring: PatientKeyring;
  readonly #vault: RecordVault;
  #index: CohortIndex | undefined;
  #building: Promise<CohortIndex> | undefined;
  readonly #dirty = new Set<string>();

  constructor(store: Store, keyring: PatientKeyring, events: EventBus) {
    this.#store = store;
    this.#keyring = keyring;
    this.#vault = new RecordVault(new RecordRows(store), keyring);
    events.on("record.stored", (e) => {
      if (e.patientAccount && TYPES.includes(e.type)) this.#dirty.add(e.patientAccount.toLowerCase());
    });
    events.on("patient.erased", (e) => {
      if (e.patientAccount) this.#dirty.add(e.patientAccount.toLowerCase());
    });
  }

  /** Forgets the index: the next match rebuilds it from the database. */
  rebuild(): void {
    this.#index = undefined;
  }

  /**
   * The accounts (lowercase) of this node's patients meeting every criterion on `now`.
   * @param criteria - The study's criteria.
   */
  async match(criteria: readonly Criterion[], now: Date): Promise<string[]> {
    const index = await this.#current();
    return index.match(criteria, now);
  }

  async #current(): Promise<CohortIndex> {
    if (this.#index === undefined) {
      this.#building ??= this.#build().finally(() => (this.#building = undefined));
      this.#index = await this.#building;
    }
    if (this.#dirty.size > 0) {
      const accounts = [...this.#dirty];
      this.#dirty.clear();
      for (const [account, resources] of await this.#load(accounts)) {
        if (resources.length === 0) this.#index.delete(account);
        else this.#index.set(account, profileOf(resources));
      }
    }
    return this.#index;
  }

  async #build(): Promise<CohortIndex> {
    this.#dirty.clear();
    const links = await this.#store.db.selectFrom("patient_links").select("account").distinct().execute();
    const index = new CohortIndex();
    const accounts = links.map((l) => l.account.toLowerCase());
    for (let i = 0; i < accounts.length; i += CHUNK)
      for (const [account, resources] of await this.#load(accounts.slice(i, i + CHUNK)))
        if (resources.length > 0) index.set(account, profileOf(resources));
    return index;
  }

  /** Each account's current resources of the matched types (empty when erased or gone). */
  async #load(accounts: readonly string[]): Promise<Map<string, FhirResource[]>> {
    const out = new Map<string, FhirResource[]>(accounts.map((a) => [a, []]));
    if (accounts.length === 0) return out;
    // accounts are stored as written (checksummed): compare them lowercased
    const links = (
      await this.#store.db.selectFrom("patient_links").select(["patient_id", "account"]).execute()
    ).filter((r) => out.has(r.account.toLowerCase()));
    const byPatient = new Map<string, string>();
    for (const l of links) byPatient.set(l.patient_id, l.account.toLowerCase());
    const patientIds = [...byPatient.keys()];
    if (patientIds.length === 0) return out;
    const rows = await this.#store.db
      .selectFrom("resources")
      .select(["type", "id", "version_id", "patient_id"])
      .where("patient_id", "in", patientIds)
      .where("type", "in", TYPES)
      .where("deleted", "=", 0)
      .execute();
    const versions = await this.#vault.rows.versionsAt(rows);
    const erased = new Map<string, boolean>();
    for (const r of rows) {
      const pid = r.patient_id!;
      if (!erased.has(pid)) erased.set(pid, await this.#keyring.isErased(keyIdOf(pid)));
      if (erased.get(pid)) continue;
      const row = versions.get(`${r.type}/${r.id}`);
      if (row) out.get(byPatient.get(pid)!)!.push(await this.#vault.open(row));
    }
    return out;
  }
}
