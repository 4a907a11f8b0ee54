import type { Kysely } from "kysely";
import { BaseError } from "../errors/BaseError.js";
import type { Schema } from "../store/schema.js";

/** What a replay key protects: a node request signature or a practitioner's access-request nonce. */
export type ReplayKind = "node-request" | "access-request";

const PRUNE_EVERY_MS = 60_000;
const lastPrune = new WeakMap<object, number>();

/**
 * Records `key` as used until `expiresAt`; throws `conflict` when it was already used. Atomic on
 * both engines (primary key + ON CONFLICT DO NOTHING ... RETURNING), so two concurrent requests
 * carrying the same signature cannot both pass. Expired keys are pruned at most once a minute.
 * @param db - The node database.
 * @param kind - What the key protects.
 * @param key - The signature or nonce (lowercase).
 * @param expiresAt - Unix ms after which the key can no longer be accepted anyway.
 * @param now - Unix ms.
 */
export async function consumeOnce(
  db: Kysely<Schema>,
  kind: ReplayKind,
  key: string,
  expiresAt: number,
  now: number,
): Promise<void> {
  await pruneExpired(db, now);
  const inserted = await db
    .insertInto("federation_replay")
    .values({ kind, key: key.toLowerCase(), expires_at: expiresAt })
    .onConflict((oc) => oc.columns(["kind", "key"]).doNothing())
    .returning("key")
    .executeTakeFirst();
  if (inserted === undefined) {
    throw new BaseError("conflict", `replayed ${kind}`, { code: "duplicate" });
  }
}

async function pruneExpired(db: Kysely<Schema>, now: number): Promise<void> {
  const last = lastPrune.get(db) ?? 0;
  if (now - last < PRUNE_EVERY_MS) return;
  lastPrune.set(db, now);
  await db.deleteFrom("federation_replay").where("expires_at", "<", now).execute();
}
