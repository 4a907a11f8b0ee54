/**
 * Full audit of a stored log: recomputes every leaf hash from the stored entry text, checks it
 * against the stored leaf hash and every complete subtree stored above it, checks each anchored
 * root, and the consistency proofs between anchors. Reports the first divergent entry: an
 * edited or deleted entry is found at its exact index; entries moved or rewritten together with
 * their leaf hashes, at the first entry of the smallest stored subtree that no longer matches.
 */
import type { Kysely } from "kysely";
import type { Hex } from "viem";
import type { Schema } from "../store/schema.js";
import { buildConsistencyProof, verifyConsistency } from "./consistencyProof.js";
import { hashesEqual, toHash, type HashLike } from "./merkleHash.js";
import { pushLeaf, textLeafHash, type EdgeNode } from "./serverHash.js";
import { foldSubtrees, type NodeSource } from "./subtrees.js";
import { storedSubtree } from "./auditStore.js";

/** A root the log committed to publicly (an anchored tree head). */
export interface Anchor {
  treeSize: number;
  rootHash: HashLike;
  /** The patient map's root anchored beside the log root (docs/audit-completeness.md). */
  mapRoot?: Hex;
}

export type VerifyResult = { ok: true } | { ok: false; firstBadIndex?: number; reason: string };

const PAGE = 4096;

/**
 * Verifies the whole stored log of `size` leaves against itself and the given anchors.
 * @param db - the store's Kysely instance
 * @param source - the stored tree, for consistency proofs between anchors
 * @param size - the log's size as the writer knows it
 * @param anchors - anchored tree heads, any order
 * @returns ok, or the first problem found. https://www.rfc-editor.org/rfc/rfc9162#section-2.1
 */
export async function verifyStoredLog(
  db: Kysely<Schema>,
  source: NodeSource,
  size: number,
  anchors: readonly Anchor[],
): Promise<VerifyResult> {
  const sorted = [...anchors].sort((a, b) => a.treeSize - b.treeSize);
  const last = sorted[sorted.length - 1];
  if (last !== undefined && last.treeSize > size) {
    return {
      ok: false,
      firstBadIndex: size,
      reason: `anchored tree size ${last.treeSize} exceeds the log size ${size}`,
    };
  }
  let nextAnchor = 0;
  const edge: EdgeNode[] = [];
  for (let start = 0; start < size; start += PAGE) {
    const end = Math.min(start + PAGE, size);
    const entries = await readEntries(db, start, end);
    for (let i = start; i < end; i++) {
      const row = entries.get(i);
      if (row === undefined) return { ok: false, firstBadIndex: i, reason: `entry ${i} is missing` };
      const leaf = textLeafHash(row.entry);
      if (!hashesEqual(leaf, row.leaf_hash)) {
        return { ok: false, firstBadIndex: i, reason: `entry ${i} does not match its stored leaf hash` };
      }
      const completed = pushLeaf(edge, i, leaf);
      for (let level = 1; level <= completed.length; level++) {
        const stored = storedSubtree(row, level);
        if (stored === undefined || !hashesEqual(stored, completed[level - 1] as Uint8Array)) {
          const first = i + 1 - 2 ** level;
          const reason = `entries ${first}..${i} do not match the subtree stored at level ${level}`;
          return { ok: false, firstBadIndex: first, reason };
        }
      }
      if ((row.subtrees?.length ?? 0) !== completed.length * 32) {
        return {
          ok: false,
          firstBadIndex: i,
          reason: `entry ${i} stores subtrees its append did not complete`,
        };
      }
      for (let a = sorted[nextAnchor]; a !== undefined && a.treeSize === i + 1; a = sorted[++nextAnchor]) {
        const expected = toHash(a.rootHash);
        const root = foldSubtrees(edge.map((e) => e.hash));
        if (expected === undefined || !hashesEqual(root, expected)) {
          const from = nextAnchor > 0 ? (sorted[nextAnchor - 1] as Anchor).treeSize : 0;
          return {
            ok: false,
            reason: `root at tree size ${a.treeSize} differs from the anchored root: entries ${from}..${a.treeSize - 1} were rewritten`,
          };
        }
      }
    }
  }
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1] as Anchor;
    const b = sorted[k] as Anchor;
    if (a.treeSize === 0) continue;
    const proof = await buildConsistencyProof(source, a.treeSize, b.treeSize);
    if (!verifyConsistency(a.treeSize, b.treeSize, a.rootHash, b.rootHash, proof)) {
      return {
        ok: false,
        reason: `anchors at tree sizes ${a.treeSize} and ${b.treeSize} are not consistent`,
      };
    }
  }
  return { ok: true };
}

async function readEntries(db: Kysely<Schema>, start: number, end: number) {
  const rows = await db
    .selectFrom("audit_entries")
    .select(["idx", "entry", "leaf_hash", "subtrees"])
    .where("idx", ">=", start)
    .where("idx", "<", end)
    .execute();
  return new Map(rows.map((r) => [Number(r.idx), r]));
}
