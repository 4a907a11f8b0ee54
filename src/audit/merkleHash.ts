/**
 * The two hash functions of an RFC 9162 Merkle tree (SHA-256 with domain separation between
 * leaves and interior nodes), and the byte helpers every verifier needs. No `node:` imports: this
 * file runs in a browser too. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
import { hexToBytes, isHex, sha256, type Hex } from "viem";

/** A 32-byte hash given as bytes or as 0x-prefixed hex (what JSON surfaces carry). */
export type HashLike = Uint8Array | Hex;

export const HASH_SIZE = 32;

const EMPTY = new Uint8Array(0);

/** SHA-256 of the empty string: the root of the empty tree (RFC 9162 section 2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(EMPTY, "bytes");

/**
 * Leaf hash `SHA-256(0x00 || entry)`.
 * @param entry - the leaf's bytes (for audit entries: UTF-8 of the canonical JSON)
 * @returns 32 bytes. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
export function leafHash(entry: Uint8Array): Uint8Array {
  const input = new Uint8Array(entry.length + 1);
  input[0] = 0x00;
  input.set(entry, 1);
  return sha256(input, "bytes");
}

/**
 * Interior node hash `SHA-256(0x01 || left || right)`.
 * @param left - hash of the left subtree
 * @param right - hash of the right subtree
 * @returns 32 bytes. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return sha256(input, "bytes");
}

/** Constant-shape byte comparison of two hashes (lengths included). */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * Normalizes a hash given as bytes or hex to bytes; `undefined` when it is not exactly 32 bytes,
 * so verifiers can reject malformed input instead of throwing.
 * @param value - bytes or 0x-hex
 * @returns the 32 bytes, or undefined
 */
export function toHash(value: HashLike): Uint8Array | undefined {
  const bytes = toBytes(value);
  return bytes?.length === HASH_SIZE ? bytes : undefined;
}

/**
 * Normalizes bytes or hex to bytes of any length; `undefined` for malformed hex.
 * @param value - bytes or 0x-hex
 * @returns the bytes, or undefined
 */
export function toBytes(value: HashLike): Uint8Array | undefined {
  if (typeof value !== "string") return value;
  return isHex(value, { strict: true }) ? hexToBytes(value) : undefined;
}

/** True when `n` is a safe non-negative integer, the only tree sizes and indices accepted. */
export function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
