/**
 * Which ledger account a FHIR Patient belongs to (consent is keyed by account, records by Patient
 * id): the `patient_links` table with an in-memory cache, including "no account" answers.
 */
import { getAddress, type Address } from "viem";
import type { Store } from "../store/database.js";

export class PatientLinks {
  readonly #links = new Map<string, Address | null>();

  constructor(private readonly store: Store) {}

  /** Links a FHIR Patient to the patient's ledger account. */
  async link(patientId: string, account: Address): Promise<void> {
    const lower = account.toLowerCase();
    await this.store.db
      .insertInto("patient_links")
      .values({ patient_id: patientId, account: lower })
      .onConflict((oc) => oc.column("patient_id").doUpdateSet({ account: lower }))
      .execute();
    this.#links.set(patientId, getAddress(account));
  }

  /** The account linked to a FHIR Patient id, if any. */
  async accountOf(patientId: string | null | undefined): Promise<Address | undefined> {
    if (!patientId) return undefined;
    if (this.#links.has(patientId)) return this.#links.get(patientId) ?? undefined;
    const row = await this.store.db
      .selectFrom("patient_links")
      .select("account")
      .where("patient_id", "=", patientId)
      .executeTakeFirst();
    const account = row ? getAddress(row.account) : null;
    this.#links.set(patientId, account);
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
