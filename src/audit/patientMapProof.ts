/**
 * The patient map's hashing and its proofs, browser-safe (viem's SHA-256, no `node:` imports).
 * The map takes each patient to (index of their last log entry, number of their entries) and is a
 * compact sparse Merkle tree over 256-bit keys `SHA-256(UTF-8(patient key))`: an empty subtree
 * hashes to 32 zero bytes, a subtree holding one patient is that patient's leaf hash, any other
 * subtree is `SHA-256(0x01 || left || right)`. So the root depends only on the map's contents,
 * and a proof has about log2(patients) hashes. docs/audit-completeness.md
 */
import { bytesToHex, hexToBytes, sha256, type Hex } from "viem";
import { hashesEqual } from "./merkleHash.js";

/** The root of the empty map, and the hash of an empty subtree. */
export const EMPTY_MAP_ROOT: Hex = `0x${"00".repeat(32)}`;

/** What the map says about one patient. */
export interface PatientMapValue {
  /** Index of the patient's last entry in the log. */
  last: number;
  /** How many entries about the patient the log holds (the length of their `prev` chain). */
  count: number;
}

/** A proof of a patient's value in the map, or of their absence. */
export interface PatientMapProof {
  /** Sibling hashes from the root down (entry `i` is the sibling at depth `i`). */
  siblings: Hex[];
  /**
   * Where the path ends: the patient's own leaf; another patient's leaf sharing the path (the
   * patient is absent); or null for an empty subtree (absent).
   */
  leaf: { keyHash: Hex; last: number; count: number } | null;
}

const utf8 = new TextEncoder();

/**
 * The map key of a patient: SHA-256 of the UTF-8 of their stored patient key.
 * @param patientKey - as `patientKey()` gives it (addresses lowercased)
 * @returns 32 bytes
 */
export function mapKeyOf(patientKey: string): Uint8Array {
  return sha256(utf8.encode(patientKey), "bytes");
}

/** The bytes a map leaf hashes: 0x00 || key || last (8 bytes, big-endian) || count (8 bytes). */
export function mapLeafInput(key: Uint8Array, last: number, count: number): Uint8Array {
  const input = new Uint8Array(49);
  input[0] = 0x00;
  input.set(key, 1);
  const view = new DataView(input.buffer);
  view.setBigUint64(33, BigInt(last));
  view.setBigUint64(41, BigInt(count));
  return input;
}

/** Bit `depth` of a key, most significant bit of byte 0 first. */
export function keyBit(key: Uint8Array, depth: number): number {
  return ((key[depth >> 3] ?? 0) >> (7 - (depth & 7))) & 1;
}

function innerHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(65);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 33);
  return sha256(input, "bytes");
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * Checks a map proof for `patientKey` against an anchored map root. Never throws.
 * @param root - the map root (from the ledger)
 * @param patientKey - the patient's key (`patientKey()` form)
 * @param proof - the proof
 * @returns the patient's value, `null` when the proof shows the patient absent, or `undefined`
 *   when the proof does not match the root
 */
export function verifyPatientMapProof(
  root: Hex,
  patientKey: string,
  proof: PatientMapProof,
): PatientMapValue | null | undefined {
  try {
    const key = mapKeyOf(patientKey);
    const depth = proof.siblings.length;
    if (depth > 256) return undefined;
    let h: Uint8Array;
    let value: PatientMapValue | null = null;
    if (proof.leaf === null) {
      h = hexToBytes(EMPTY_MAP_ROOT);
    } else {
      const { last, count } = proof.leaf;
      const leafKey = hexToBytes(proof.leaf.keyHash);
      if (leafKey.length !== 32 || !isCount(last) || !isCount(count) || count < 1) return undefined;
      for (let d = 0; d < depth; d++) if (keyBit(leafKey, d) !== keyBit(key, d)) return undefined;
      if (hashesEqual(leafKey, key)) value = { last, count };
      h = sha256(mapLeafInput(leafKey, last, count), "bytes");
    }
    for (let d = depth - 1; d >= 0; d--) {
      const sibling = hexToBytes(proof.siblings[d] as Hex);
      if (sibling.length !== 32) return undefined;
      h = keyBit(key, d) === 0 ? innerHash(h, sibling) : innerHash(sibling, h);
    }
    return bytesToHex(h) === root.toLowerCase() ? value : undefined;
  } catch {
    return undefined;
  }
}
