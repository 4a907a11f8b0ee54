/**
 * The audit log's table as the tree reads it: each entry row holds the complete subtree hashes its
 * append finished, and roots and proofs read O(log n) of them by key. The batched insert lives in
 * src/store/auditRows.ts. Server side only (Kysely, Buffers).
 */
import type { Kysely } from "kysely";
import type { Schema } from "../store/schema.js";
import { BaseError } from "../errors/BaseError.js";
import type { EdgeNode } from "./serverHash.js";
import { frontierOf, type NodeKey, type NodeSource } from "./subtrees.js";

/**
 * The leaf whose append completes the subtree (`level`, `index`): its last leaf. That entry's row
 * stores the subtree's hash, so appends write one row per entry at the right end of one b-tree.
 */
export function lastLeafOf(level: number, index: number): number {
  return (index + 1) * 2 ** level - 1;
}

/** Bytes per stored hash. */
const HASH = 32;

/**
 * The hash of the subtree at `level` whose last leaf is `row`: the leaf hash at level 0, else
 * the `level`-th hash of the row's `subtrees` (levels 1, 2, ... in order); undefined when the row
 * does not hold that level.
 */
export function storedSubtree(
  row: { leaf_hash: Uint8Array; subtrees: Uint8Array | null },
  level: number,
): Uint8Array | undefined {
  if (level === 0) return row.leaf_hash;
  const end = level * HASH;
  if (row.subtrees === null || row.subtrees.length < end) return undefined;
  return row.subtrees.subarray(end - HASH, end);
}

/** The number of entries stored: one past the highest index. */
export async function storedSize(db: Kysely<Schema>): Promise<number> {
  const row = await db
    .selectFrom("audit_entries")
    .select("idx")
    .orderBy("idx", "desc")
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? 0 : Number(row.idx) + 1;
}

/**
 * A `NodeSource` over the entry rows that hold the subtrees: one query per call whatever the
 * number of keys.
 * @param db - the store's Kysely instance
 * @returns the source
 */
export function dbNodeSource(db: Kysely<Schema>): NodeSource {
  return {
    async nodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
      if (keys.length === 0) return [];
      const leaves = keys.map((k) => lastLeafOf(k.level, k.index));
      const rows = await db
        .selectFrom("audit_entries")
        .select(["idx", "leaf_hash", "subtrees"])
        .where("idx", "in", [...new Set(leaves)])
        .execute();
      const found = new Map(rows.map((r) => [Number(r.idx), r]));
      return keys.map((k, i) => {
        const row = found.get(leaves[i] as number);
        const hash = row === undefined ? undefined : storedSubtree(row, k.level);
        if (hash === undefined) {
          throw new BaseError("internal", "audit subtree hash missing", {
            details: `level ${k.level} index ${k.index}`,
          });
        }
        return hash;
      });
    },
  };
}

/** The stored log's size and its frontier (the roots of its perfect subtrees), to append after. */
export async function loadFrontier(db: Kysely<Schema>): Promise<{ size: number; frontier: EdgeNode[] }> {
  const size = await storedSize(db);
  const keys = frontierOf(size);
  const hashes = await dbNodeSource(db).nodes(keys);
  return {
    size,
    frontier: keys.map((k, i) => ({ level: k.level, index: k.index, hash: hashes[i] as Uint8Array })),
  };
}
