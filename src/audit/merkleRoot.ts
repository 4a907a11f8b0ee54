/**
 * The Merkle Tree Hash of a list, straight from its definition, and an in-memory `NodeSource`.
 * This is the simple reference that the database-backed log is cross-checked against.
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
import { EMPTY_ROOT, nodeHash } from "./merkleHash.js";
import { splitPoint, type NodeKey, type NodeSource } from "./subtrees.js";

/**
 * MTH over leaf hashes: the empty root for none, the leaf hash for one, else
 * `H(0x01 || MTH(D[0:k]) || MTH(D[k:n]))` with k the largest power of two below n.
 * @param leafHashes - `leafHash(entry)` of every entry, in order
 * @returns the 32-byte root. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  return rangeRoot(leafHashes, 0, leafHashes.length);
}

function rangeRoot(leaves: readonly Uint8Array[], start: number, end: number): Uint8Array {
  if (end - start === 1) return leaves[start] as Uint8Array;
  const k = splitPoint(end - start);
  return nodeHash(rangeRoot(leaves, start, start + k), rangeRoot(leaves, start + k, end));
}

/**
 * A `NodeSource` over leaf hashes held in memory, computing each complete subtree on demand.
 * @param leafHashes - the tree's leaf hashes
 * @returns a source for proof builders
 */
export function memoryNodeSource(leafHashes: readonly Uint8Array[]): NodeSource {
  return {
    nodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
      return Promise.resolve(
        keys.map((k) => {
          const width = 2 ** k.level;
          const start = k.index * width;
          if (start + width > leafHashes.length)
            throw new RangeError(`subtree (${k.level}, ${k.index}) is not complete`);
          return rangeRoot(leafHashes, start, start + width);
        }),
      );
    },
  };
}
