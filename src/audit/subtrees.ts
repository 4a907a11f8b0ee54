/**
 * Complete subtrees of an RFC 9162 tree and how any range of leaves decomposes into them. The
 * node at `(level, index)` covers leaves `[index * 2^level, (index + 1) * 2^level)`; once those
 * leaves exist it never changes, so it can be stored once and read by every later proof.
 * Arithmetic avoids 32-bit bit operators so sizes up to 2^53 work.
 */
import { nodeHash } from "./merkleHash.js";

/** A complete subtree: `2^level` leaves starting at leaf `index * 2^level`. */
export interface NodeKey {
  readonly level: number;
  readonly index: number;
}

/** A half-open range of leaf indices `[start, end)`. */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/** Where proof builders read complete subtree hashes from (the database, or memory in tests). */
export interface NodeSource {
  /** Hashes of the given complete subtrees, in the same order; throws if one is missing. */
  nodes(keys: readonly NodeKey[]): Promise<Uint8Array[]>;
}

/**
 * The largest power of two strictly smaller than `n` (the split point `k` of RFC 9162 2.1.1).
 * @param n - a size of at least 2
 * @returns k with k < n <= 2k
 */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Decomposes `[start, end)` into maximal aligned complete subtrees, largest first. For the ranges
 * that occur in RFC 9162 trees (start aligned to the range's size rounded up) this is the binary
 * decomposition of `end - start`, so it has at most log2(size) + 1 parts.
 * @param range - the leaf range
 * @returns the subtrees, left to right
 */
export function subtreesOf(range: LeafRange): NodeKey[] {
  const out: NodeKey[] = [];
  let start = range.start;
  while (start < range.end) {
    let size = 1;
    let level = 0;
    while (size * 2 <= range.end - start && start % (size * 2) === 0) {
      size *= 2;
      level++;
    }
    out.push({ level, index: start / size });
    start += size;
  }
  return out;
}

/**
 * The hash of a range from the hashes of its subtrees (as returned by `subtreesOf`), folding from
 * the right: MTH of a non-power-of-two range is `H(left complete subtree, MTH(rest))`.
 * @param parts - subtree hashes, left to right, at least one
 * @returns the range's Merkle tree hash
 */
export function foldSubtrees(parts: readonly Uint8Array[]): Uint8Array {
  let acc = parts[parts.length - 1];
  if (acc === undefined) throw new RangeError("foldSubtrees needs at least one subtree");
  for (let i = parts.length - 2; i >= 0; i--) acc = nodeHash(parts[i] as Uint8Array, acc);
  return acc;
}

/**
 * Reads the hashes of several ranges with one `NodeSource` call (O(log n) keys in total for a
 * proof), so a database-backed source pays one round trip per proof.
 * @param source - where complete subtree hashes live
 * @param ranges - leaf ranges, each non-empty
 * @returns one hash per range
 */
export async function rangeHashes(source: NodeSource, ranges: readonly LeafRange[]): Promise<Uint8Array[]> {
  const perRange = ranges.map(subtreesOf);
  const keys = perRange.flat();
  const hashes = keys.length === 0 ? [] : await source.nodes(keys);
  const out: Uint8Array[] = [];
  let offset = 0;
  for (const parts of perRange) {
    out.push(foldSubtrees(hashes.slice(offset, offset + parts.length)));
    offset += parts.length;
  }
  return out;
}

/** The complete subtrees whose fold is the root of a tree of `size` leaves (its right edge). */
export function frontierOf(size: number): NodeKey[] {
  return size === 0 ? [] : subtreesOf({ start: 0, end: size });
}
