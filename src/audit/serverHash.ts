/**
 * The RFC 9162 leaf and node hashes with Node's native SHA-256, for the server's hot paths
 * (appending, full-log verification): several times faster than the pure-JS hashes in
 * `merkleHash.ts`, which stay the browser-safe reference and must give the same bytes.
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
import { hash } from "node:crypto";

/**
 * `SHA-256(0x00 || UTF-8(text))`: the leaf hash of an entry's canonical JSON text.
 * @param text - the stored entry text
 * @returns 32 bytes
 */
export function textLeafHash(text: string): Buffer {
  const input = Buffer.allocUnsafe(1 + Buffer.byteLength(text, "utf8"));
  input[0] = 0x00;
  input.write(text, 1, "utf8");
  return hash("sha256", input, "buffer");
}

/**
 * {@link textLeafHash} of a text given with its NUL prefix already in front (`"\0" + text`, for
 * instance a slice of the writing thread's packed batch): one native hash, no copy.
 * @param input - a NUL followed by the stored entry text
 * @returns 32 bytes
 */
export function prefixedLeafHash(input: string): Buffer {
  return hash("sha256", input, "buffer");
}

/**
 * `SHA-256(UTF-8(salt || text))` as lowercase hex: a version 2 entry's commitment to its opening
 * (`commitmentOf` in auditEntry.ts is the browser-safe reference).
 * @param salt - the salt, 32 lowercase hex digits
 * @param text - `openingText` of the facts
 */
export function serverCommitment(salt: string, text: string): string {
  return hash("sha256", salt + text, "hex");
}

/**
 * `SHA-256(0x01 || left || right)`.
 * @param left - left subtree hash (32 bytes)
 * @param right - right subtree hash (32 bytes)
 * @returns 32 bytes
 */
export function fastNodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return hash("sha256", input, "buffer");
}

/** A complete subtree on the right edge of a tree being built: `2^level` leaves from `index * 2^level`. */
export interface EdgeNode {
  level: number;
  index: number;
  hash: Uint8Array;
}

/**
 * A copy of an edge node that owns its hash's bytes, for posting to another thread: a Buffer that
 * is a view into a shared pool would be cloned with the whole pool.
 */
export function ownedEdgeNode(n: EdgeNode): EdgeNode {
  return { level: n.level, index: n.index, hash: Uint8Array.from(n.hash) };
}

/**
 * Appends leaf `index` (hash `leaf`) to the right edge `edge` of an RFC 9162 tree, merging each
 * pair of equal-level subtrees it completes.
 * @returns the hashes of the subtrees the leaf completed, level 1 first (empty when none)
 */
export function pushLeaf(edge: EdgeNode[], index: number, leaf: Uint8Array): Uint8Array[] {
  let top: EdgeNode = { level: 0, index, hash: leaf };
  const completed: Uint8Array[] = [];
  while (edge.length > 0 && edge[edge.length - 1]?.level === top.level) {
    const left = edge.pop() as EdgeNode;
    top = { level: top.level + 1, index: left.index / 2, hash: fastNodeHash(left.hash, top.hash) };
    completed.push(top.hash);
  }
  edge.push(top);
  return completed;
}
