/**
 * The `audit_tree_heads` table: signed tree heads as they are made, then marked anchored once
 * their anchoring transaction is confirmed. The anchoring relayer and `verifyAll` read it.
 */
import { bytesToHex, hexToBytes, type Address, type Hex } from "viem";
import type { Kysely } from "kysely";
import type { AuditTreeHeadTable, Schema, TreeHeadStatus } from "../store/schema.js";
import { BaseError } from "../errors/BaseError.js";
import { hashesEqual } from "./merkleHash.js";
import { EMPTY_MAP_ROOT } from "./patientMapProof.js";
import type { SignedTreeHead } from "./treeHead.js";

/** A stored tree head and how far it got. */
export interface StoredTreeHead extends SignedTreeHead {
  status: TreeHeadStatus;
  anchoredBlock: number | null;
  anchoredTx: Hex | null;
}

export interface TreeHeadQuery {
  status?: TreeHeadStatus;
  /** Only heads with a larger tree size. */
  afterSize?: number;
  limit?: number;
}

function fromRow(row: AuditTreeHeadTable): StoredTreeHead {
  return {
    node: row.node as Address,
    treeSize: Number(row.tree_size),
    rootHash: bytesToHex(row.root),
    mapRoot: row.map_root === null ? EMPTY_MAP_ROOT : bytesToHex(row.map_root),
    timestamp: Number(row.timestamp),
    signature: row.signature as Hex,
    status: row.status,
    anchoredBlock: row.anchored_block === null ? null : Number(row.anchored_block),
    anchoredTx: row.anchored_tx as Hex | null,
  };
}

/**
 * Stores a signed head with status `signed`. Recording the same head again is a no-op; a
 * different root for an already recorded size is a conflict (it would be a forked log).
 * @param db - the store's Kysely instance
 * @param head - the signed head
 * @param now - milliseconds for `created_at`
 */
export async function insertTreeHead(db: Kysely<Schema>, head: SignedTreeHead, now: number): Promise<void> {
  const root = Buffer.from(hexToBytes(head.rootHash));
  await db
    .insertInto("audit_tree_heads")
    .values({
      tree_size: head.treeSize,
      root,
      timestamp: head.timestamp,
      node: head.node,
      signature: head.signature,
      map_root: Buffer.from(hexToBytes(head.mapRoot)),
      status: "signed",
      anchored_block: null,
      anchored_tx: null,
      created_at: now,
    })
    .onConflict((oc) => oc.column("tree_size").doNothing())
    .execute();
  const stored = await db
    .selectFrom("audit_tree_heads")
    .select("root")
    .where("tree_size", "=", head.treeSize)
    .executeTakeFirstOrThrow();
  if (!hashesEqual(stored.root, root)) {
    throw new BaseError("conflict", "a different tree head is recorded for this size", {
      details: `tree size ${head.treeSize}`,
    });
  }
}

/**
 * Marks a recorded head as anchored on chain.
 * @param db - the store's Kysely instance
 * @param treeSize - the head's tree size
 * @param block - block number of the confirmed anchoring transaction
 * @param tx - its transaction hash, when known
 */
export async function markTreeHeadAnchored(
  db: Kysely<Schema>,
  treeSize: number,
  block: number,
  tx?: Hex,
): Promise<void> {
  const result = await db
    .updateTable("audit_tree_heads")
    .set({ status: "anchored", anchored_block: block, anchored_tx: tx ?? null })
    .where("tree_size", "=", treeSize)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) {
    throw new BaseError("not-found", "no tree head recorded for this size", {
      details: `tree size ${treeSize}`,
    });
  }
}

/**
 * Lists recorded heads by ascending tree size.
 * @param db - the store's Kysely instance
 * @param query - optional status filter, lower bound and limit
 * @returns the heads
 */
export async function listTreeHeads(
  db: Kysely<Schema>,
  query: TreeHeadQuery = {},
): Promise<StoredTreeHead[]> {
  let q = db.selectFrom("audit_tree_heads").selectAll().orderBy("tree_size", "asc");
  if (query.status !== undefined) q = q.where("status", "=", query.status);
  if (query.afterSize !== undefined) q = q.where("tree_size", ">", query.afterSize);
  if (query.limit !== undefined) q = q.limit(query.limit);
  return (await q.execute()).map(fromRow);
}

/**
 * The head with the largest tree size, optionally of one status.
 * @param db - the store's Kysely instance
 * @param status - `signed` or `anchored`
 * @returns the head, or undefined when none is recorded
 */
export async function latestTreeHead(
  db: Kysely<Schema>,
  status?: TreeHeadStatus,
): Promise<StoredTreeHead | undefined> {
  let q = db.selectFrom("audit_tree_heads").selectAll().orderBy("tree_size", "desc").limit(1);
  if (status !== undefined) q = q.where("status", "=", status);
  const row = await q.executeTakeFirst();
  return row === undefined ? undefined : fromRow(row);
}
