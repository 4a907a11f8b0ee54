/**
 * What an erasure removes outside the records (docs/data-at-rest.md), in the erasure's transaction:
 * the openings of the patient's audit entries (their categories and reasons; the entries stay and
 * still verify), the patient's subscriptions' stored events and queued or kept REST-hook bodies
 * (the subscriptions end), the queued grant pushes, and the terms of the patient's consent grants
 * (each row stays, revoked, so terms pushed again by a peer are not stored again). Idempotent.
 */
import type { Transaction } from "kysely";
import type { Schema } from "./schema.js";
import { bumpVersion } from "./sharedState.js";

/** Entry indexes per DELETE (bound parameters). */
const CHUNK = 1000;

export interface ErasureAtRest {
  /** Indexes of the audit entries about the patient (under every name the log used). */
  auditIndexes: readonly number[];
  /** The patient's ledger accounts (subscriptions and grants name the account). */
  accounts: readonly string[];
  /** Unix milliseconds. */
  now: number;
}

/** The idempotency-key prefix of a queued grant-terms push about `account` (src/federation/grantDistribution.ts). */
export function grantPushKeyPrefix(account: string): string {
  return `grant:${account.toLowerCase()}:`;
}

/**
 * Removes what identifies the patient's conditions outside the records.
 * @param tx - the erasure's transaction
 */
export async function eraseAtRest(tx: Transaction<Schema>, erasure: ErasureAtRest): Promise<void> {
  for (let at = 0; at < erasure.auditIndexes.length; at += CHUNK)
    await tx
      .deleteFrom("audit_openings")
      .where("idx", "in", erasure.auditIndexes.slice(at, at + CHUNK))
      .execute();
  const accounts = erasure.accounts.map((a) => a.toLowerCase());
  if (accounts.length === 0) return;
  const subscriptions = await tx
    .selectFrom("subscriptions")
    .select("id")
    .where("patient", "in", accounts)
    .execute();
  for (const { id } of subscriptions) {
    await tx.deleteFrom("subscription_events").where("subscription_id", "=", id).execute();
    await tx.deleteFrom("push_deliveries").where("idem_key", "like", `sub:${id}:%`).execute();
  }
  await tx
    .updateTable("subscriptions")
    .set({ categories: 0, status: "ended", end_reason: "patient erased", ended_at: erasure.now })
    .where("patient", "in", accounts)
    .execute();
  for (const account of accounts)
    await tx
      .deleteFrom("push_deliveries")
      .where("idem_key", "like", `${grantPushKeyPrefix(account)}%`)
      .execute();
  const grants = await tx
    .selectFrom("consent_grants")
    .select("grant_id")
    .where("patient", "in", accounts)
    .where((eb) => eb.or([eb("signature", "!=", ""), eb("revoked_at", "is", null)]))
    .executeTakeFirst();
  if (grants === undefined) return;
  const seq = await bumpVersion(tx, "grants");
  await tx
    .updateTable("consent_grants")
    .set({
      categories: 0,
      purposes: 0,
      actions: 0,
      not_before: 0,
      not_after: 0,
      salt: "",
      signature: "",
      changed_seq: seq,
    })
    .where("patient", "in", accounts)
    .execute();
  await tx
    .updateTable("consent_grants")
    .set({ revoked_at: Math.floor(erasure.now / 1000) })
    .where("patient", "in", accounts)
    .where("revoked_at", "is", null)
    .execute();
}
