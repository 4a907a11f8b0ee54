/**
 * Inclusion proofs (audit paths): which subtrees form one, building it from a `NodeSource` with
 * O(log n) reads, and the verifier of RFC 9162 section 2.1.3.2 (pure; runs in a browser).
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3
 */
import { hashesEqual, isCount, nodeHash, toHash, type HashLike } from "./merkleHash.js";
import { rangeHashes, splitPoint, type LeafRange, type NodeSource } from "./subtrees.js";

/**
 * The leaf ranges whose hashes make up the inclusion proof of leaf `index` in a tree of
 * `treeSize` leaves, bottom (the leaf's sibling) first: RFC 6962 PATH(m, D[n]).
 * @param index - 0-based leaf index, below `treeSize`
 * @param treeSize - number of leaves
 * @returns the ranges, in proof order. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1
 */
export function inclusionRanges(index: number, treeSize: number): LeafRange[] {
  if (!isCount(index) || !isCount(treeSize) || index >= treeSize) {
    throw new RangeError(`no inclusion proof for leaf ${index} in a tree of size ${treeSize}`);
  }
  const topDown: LeafRange[] = [];
  let start = 0;
  let end = treeSize;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index - start < k) {
      topDown.push({ start: start + k, end });
      end = start + k;
    } else {
      topDown.push({ start, end: start + k });
      start += k;
    }
  }
  return topDown.reverse();
}

/**
 * Builds the inclusion proof of leaf `index` in the tree of `treeSize` leaves.
 * @param source - complete subtree hashes of a tree of at least `treeSize` leaves
 * @param index - 0-based leaf index
 * @param treeSize - size of the tree the proof is for
 * @returns the proof hashes, leaf's sibling first. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1
 */
export function buildInclusionProof(
  source: NodeSource,
  index: number,
  treeSize: number,
): Promise<Uint8Array[]> {
  return rangeHashes(source, inclusionRanges(index, treeSize));
}

/**
 * The root a proof leads to, or undefined when it is malformed (RFC 9162 2.1.3.2 steps 1-5,
 * without the final comparison).
 */
export function rootFromInclusionProof(
  leaf: HashLike,
  index: number,
  treeSize: number,
  proof: readonly HashLike[],
): Uint8Array | undefined {
  if (!isCount(index) || !isCount(treeSize) || index >= treeSize) return undefined;
  let r = toHash(leaf);
  if (r === undefined) return undefined;
  let fn = index;
  let sn = treeSize - 1;
  for (const element of proof) {
    const p = toHash(element);
    if (p === undefined || sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

/**
 * Verifies that `leaf` (a leaf hash) is at `index` in the tree of `treeSize` leaves whose root is
 * `root`. Never throws: malformed input is simply not a proof.
 * @param leaf - the leaf hash, `leafHash(entry)`
 * @param index - 0-based leaf index
 * @param treeSize - size of the tree
 * @param proof - the audit path, sibling first
 * @param root - the expected root of the tree of `treeSize`
 * @returns true when the proof holds. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2
 */
export function verifyInclusion(
  leaf: HashLike,
  index: number,
  treeSize: number,
  proof: readonly HashLike[],
  root: HashLike,
): boolean {
  const expected = toHash(root);
  const computed = rootFromInclusionProof(leaf, index, treeSize, proof);
  return expected !== undefined && computed !== undefined && hashesEqual(computed, expected);
}
