/**
 * Consistency proofs between two sizes of one log: which subtrees form one, building it from a
 * `NodeSource` with O(log n) reads, and the verifier of RFC 9162 section 2.1.4.2 (pure).
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4
 */
import { hashesEqual, isCount, nodeHash, toBytes, toHash, type HashLike } from "./merkleHash.js";
import { rangeHashes, splitPoint, type LeafRange, type NodeSource } from "./subtrees.js";

/**
 * The leaf ranges whose hashes make up the consistency proof from `oldSize` to `newSize`:
 * RFC 6962 PROOF(m, D[n]) = SUBPROOF(m, D[n], true). Empty when the sizes are equal.
 * @param oldSize - the earlier size, at least 1
 * @param newSize - the later size, at least `oldSize`
 * @returns the ranges, in proof order. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1
 */
export function consistencyRanges(oldSize: number, newSize: number): LeafRange[] {
  if (!isCount(oldSize) || !isCount(newSize) || oldSize < 1 || oldSize > newSize) {
    throw new RangeError(`no consistency proof from size ${oldSize} to size ${newSize}`);
  }
  const topDown: LeafRange[] = [];
  let start = 0;
  let end = newSize;
  let m = oldSize;
  let complete = true;
  for (;;) {
    if (m === end - start) {
      if (!complete) topDown.push({ start, end });
      break;
    }
    const k = splitPoint(end - start);
    if (m <= k) {
      topDown.push({ start: start + k, end });
      end = start + k;
    } else {
      topDown.push({ start, end: start + k });
      m -= k;
      start += k;
      complete = false;
    }
  }
  return topDown.reverse();
}

/**
 * Builds the consistency proof between the trees of `oldSize` and `newSize` leaves.
 * @param source - complete subtree hashes of a tree of at least `newSize` leaves
 * @param oldSize - earlier size, at least 1
 * @param newSize - later size
 * @returns the proof hashes. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1
 */
export function buildConsistencyProof(
  source: NodeSource,
  oldSize: number,
  newSize: number,
): Promise<Uint8Array[]> {
  return rangeHashes(source, consistencyRanges(oldSize, newSize));
}

/**
 * Verifies that the tree of `oldSize` leaves with root `oldRoot` is a prefix of the tree of
 * `newSize` leaves with root `newRoot`. Edge cases follow transparency-dev/merkle: from size 0 is
 * rejected; equal sizes need an empty proof and equal roots. Never throws.
 * @param oldSize - earlier size
 * @param newSize - later size
 * @param oldRoot - root at `oldSize`
 * @param newRoot - root at `newSize`
 * @param proof - the consistency proof
 * @returns true when consistent. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: HashLike,
  newRoot: HashLike,
  proof: readonly HashLike[],
): boolean {
  if (!isCount(oldSize) || !isCount(newSize) || oldSize < 1 || oldSize > newSize) return false;
  if (oldSize === newSize) {
    // As transparency-dev/merkle: the same tree, whatever the roots' encoding, and nothing to prove.
    const a = toBytes(oldRoot);
    const b = toBytes(newRoot);
    return proof.length === 0 && a !== undefined && b !== undefined && hashesEqual(a, b);
  }
  const first = toHash(oldRoot);
  const second = toHash(newRoot);
  if (first === undefined || second === undefined) return false;
  const path: Uint8Array[] = [];
  for (const element of proof) {
    const h = toHash(element);
    if (h === undefined) return false;
    path.push(h);
  }
  // Step 1: a non-trivial proof is never empty.
  if (path.length === 0) return false;
  // Step 2: when the old tree is a complete subtree, its root is the proof's implicit first node.
  if (isPowerOfTwo(oldSize)) path.unshift(first);
  // Steps 3-4.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  return sn === 0 && hashesEqual(fr, first) && hashesEqual(sr, second);
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}
