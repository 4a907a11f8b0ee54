/**
 * What the records store about a version beside its encrypted body, blinded under keys derived
 * from the patient's key (docs/data-at-rest.md), so that it dies with the key at erasure:
 * - the category mask, stored XOR a pad (the first 32 bits of HMAC-SHA256 over the version's
 *   identity): equal masks look unrelated across versions and patients;
 * - the content hash, an HMAC-SHA256 of the canonical JSON: no one without the key can confirm a
 *   guess of a record's content against it.
 */
import { createHmac } from "node:crypto";

/** The label of the key derived from a patient's key for blinding masks. */
export const MASK_KEY_LABEL = "carechain/category-mask/v1";

/** The label of the key derived from a patient's key for content hashes. */
export const CONTENT_KEY_LABEL = "carechain/content-hash/v1";

/**
 * The stored content hash of one version.
 * @param contentKey - the patient's key derived under {@link CONTENT_KEY_LABEL}
 * @param canonical - the version's canonical JSON (RFC 8785), as encrypted
 * @returns 0x-prefixed lowercase hex
 */
export function keyedContentHash(contentKey: Uint8Array, canonical: Uint8Array | string): string {
  return `0x${createHmac("sha256", contentKey).update(canonical).digest("hex")}`;
}

/**
 * The 32-bit pad of one version's mask.
 * @param maskKey - the patient's key derived under {@link MASK_KEY_LABEL}
 */
export function maskPad(maskKey: Uint8Array, type: string, id: string, versionId: number): number {
  return createHmac("sha256", maskKey).update(`${type}|${id}|${versionId}`, "utf8").digest().readUInt32BE(0);
}

/** The stored form of a mask under a pad (an unsigned 32-bit integer). */
export function blindMask(mask: number, pad: number): number {
  return (mask ^ pad) >>> 0;
}

/** The mask a stored value blinds under a pad. */
export function unblindMask(stored: number, pad: number): number {
  return (stored ^ pad) >>> 0;
}
