/**
 * Which ledger account a FHIR Patient belongs to (consent is keyed by account, records by Patient
 * id): the `patient_links` table with an in-memory cache, including "no account" answers. Every
 * change of a link takes the next "patient-links" version (src/store/sharedState.ts); another
 * process drops its cached answers for the changed Patients within its recheck interval.
 */
import { getAddress, type Address } from "viem";
import type { Kysely, Transaction } from "kysely";
import type { Store } from "../store/database.js";
import type { Schema } from "../store/schema.js";
import { bumpVersion, type SharedState } from "../store/sharedState.js";

/**
 * Links a FHIR Patient to a ledger account inside the caller's transaction; a link that changes
 * (new, or to another account) takes the next "patient-links" version.
 */
export async function writePatientLink(
  tx: Transaction<Schema>,
  patientId: string,
  account: Address | string,
): Promise<void> {
  const lower = account.toLowerCase();
  const result = await tx
    .insertInto("patient_links")
    .values({ patient_id: patientId, account: lower })
    .onConflict((oc) =>
      oc.column("patient_id").doUpdateSet({ account: lower }).where("patient_links.account", "<>", lower),
    )
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return;
  await tx
    .updateTable("patient_links")
    .set({ changed_seq: await bumpVersion(tx, "patient-links") })
    .where("patient_id", "=", patientId)
    .execute();
}

export class PatientLinks {
  readonly #links = new Map<string, Address | null>();
  /** Moves at every followed change: a lookup that began before it does not cache its answer. */
  #epoch = 0;

  constructor(private readonly store: Store) {}

  /**
   * Follows other processes' link changes: at each moved "patient-links" version, the cached
   * answers for the Patients whose link changed are dropped (read again on next use).
   */
  follow(state: SharedState): void {
    const db: Kysely<Schema> = this.store.db;
    state.on("patient-links", async (since) => {
      const rows = await db
        .selectFrom("patient_links")
        .select("patient_id")
        .where("changed_seq", ">", since)
        .execute();
      this.#epoch++;
      for (const row of rows) this.#links.delete(row.patient_id);
    });
  }

  /** Links a FHIR Patient to the patient's ledger account. */
  async link(patientId: string, account: Address): Promise<void> {
    await this.store.db.transaction().execute((tx) => writePatientLink(tx, patientId, account));
    this.#links.set(patientId, getAddress(account));
  }

  /** The account linked to a FHIR Patient id, if any. */
  async accountOf(patientId: string | null | undefined): Promise<Address | undefined> {
    if (!patientId) return undefined;
    if (this.#links.has(patientId)) return this.#links.get(patientId) ?? undefined;
    const epoch = this.#epoch;
    const row = await this.store.db
      .selectFrom("patient_links")
      .select("account")
      .where("patient_id", "=", patientId)
      .executeTakeFirst();
    const account = row ? getAddress(row.account) : null;
    if (epoch === this.#epoch) this.#links.set(patientId, account);
    return account ?? undefined;
  }

  /** FHIR Patient ids linked to an account. */
  async patientIdsOf(account: string): Promise<string[]> {
    const rows = await this.store.db
      .selectFrom("patient_links")
      .select("patient_id")
      .where("account", "=", account.toLowerCase())
      .execute();
    return rows.map((r) => r.patient_id);
  }

  /** The account cached for a Patient id (undefined: not cached or none). */
  cached(patientId: string): Address | undefined {
    return this.#links.get(patientId) ?? undefined;
  }

  /** Remembers a link written by this process (the row is written with the Patient's record). */
  remember(patientId: string, account: Address): void {
    this.#links.set(patientId, getAddress(account));
  }

  /** Forgets a cached link (a failed write claimed it). */
  forget(patientId: string): void {
    this.#links.delete(patientId);
  }
}
