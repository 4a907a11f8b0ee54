import type { Kysely, Selectable } from "kysely";
import type { Address, Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { ConsentGrantTable, Schema } from "../store/schema.js";
import { GrantIndex } from "./grantIndex.js";
import { GRANTEE_KINDS, type GranteeKind } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";

/** Rows read per query while rebuilding the index, to bound memory on large tables. */
const PAGE = 10_000;

/**
 * Stores a grant the indexer saw on chain in `consent_grants`, the mirror the index is rebuilt from.
 * Idempotent on `grant_id`: a second delivery of the same event changes nothing.
 * @param db - the node's database (or a transaction)
 * @param grant - the grant from the `ConsentGranted` event
 * @param blockNumber - block that recorded it
 * @returns true when the row was new
 */
export async function saveGrant(
  db: Kysely<Schema>,
  grant: Grant,
  blockNumber: number | bigint,
): Promise<boolean> {
  const result = await db
    .insertInto("consent_grants")
    .values({
      grant_id: grant.grantId.toLowerCase(),
      patient: grant.patient.toLowerCase(),
      grantee_kind: grant.granteeKind,
      grantee: grant.grantee.toLowerCase(),
      role: grant.role.toLowerCase(),
      categories: grant.categories,
      purposes: grant.purposes,
      actions: grant.actions,
      not_before: grant.notBefore,
      not_after: grant.notAfter,
      nonce: grant.nonce.toString(),
      granted_block: Number(blockNumber),
      revoked_at: grant.revokedAt ?? null,
    })
    .onConflict((oc) => oc.column("grant_id").doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/**
 * Records a revocation seen on chain. A repeated revocation keeps the first time.
 * @param grantId - the revoked grant
 * @param at - unix seconds of the revoking block
 * @returns false when the grant is unknown or was already revoked
 */
export async function markRevoked(db: Kysely<Schema>, grantId: Hex, at: number): Promise<boolean> {
  const result = await db
    .updateTable("consent_grants")
    .set({ revoked_at: at })
    .where("grant_id", "=", grantId.toLowerCase())
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Rebuilds the in-memory index from `consent_grants` at startup, page by page in grant-id order.
 * @param pageSize - rows per query
 * @returns an index holding every stored grant, revoked ones marked
 */
export async function loadGrantIndex(db: Kysely<Schema>, pageSize: number = PAGE): Promise<GrantIndex> {
  const index = new GrantIndex();
  let after: string | undefined;
  for (;;) {
    let query = db.selectFrom("consent_grants").selectAll().orderBy("grant_id").limit(pageSize);
    if (after !== undefined) query = query.where("grant_id", ">", after);
    const rows = await query.execute();
    for (const row of rows) index.add(grantFromRow(row));
    const last = rows.at(-1);
    if (rows.length < pageSize || last === undefined) return index;
    after = last.grant_id;
  }
}

/** Reads one stored grant, or undefined. */
export async function findGrant(db: Kysely<Schema>, grantId: Hex): Promise<Grant | undefined> {
  const row = await db
    .selectFrom("consent_grants")
    .selectAll()
    .where("grant_id", "=", grantId.toLowerCase())
    .executeTakeFirst();
  return row === undefined ? undefined : grantFromRow(row);
}

function grantFromRow(row: Selectable<ConsentGrantTable>): Grant {
  if (!(GRANTEE_KINDS as readonly string[]).includes(row.grantee_kind)) {
    throw new BaseError("internal", "consent_grants holds an unknown grantee kind", {
      details: row.grant_id,
    });
  }
  const grant: Grant = {
    grantId: row.grant_id as Hex,
    patient: row.patient as Address,
    granteeKind: row.grantee_kind as GranteeKind,
    grantee: row.grantee as Hex,
    role: row.role as Hex,
    categories: Number(row.categories),
    purposes: Number(row.purposes),
    actions: Number(row.actions),
    notBefore: Number(row.not_before),
    notAfter: Number(row.not_after),
    nonce: BigInt(row.nonce),
  };
  if (row.revoked_at !== null) grant.revokedAt = Number(row.revoked_at);
  return grant;
}
