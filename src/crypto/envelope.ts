import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { BaseError } from "../errors/BaseError.js";
import type { PatientKeyring } from "./patientKeys.js";

/**
 * Record blob, version 1 (all AES-256-GCM, 96-bit IVs, 128-bit tags):
 *
 *   0x01 | dekIv(12) | dekTag(16) | wrappedDek(32) | iv(12) | tag(16) | ciphertext
 *
 * The data key (DEK) is fresh per record and wrapped by the patient key; both layers take the
 * record's AAD, so a blob only opens as the record it was written for.
 */
const VERSION = 1;
const IV = 12;
const TAG = 16;
const DEK = 32;
const DEK_IV_AT = 1;
const DEK_TAG_AT = DEK_IV_AT + IV;
const DEK_AT = DEK_TAG_AT + TAG;
const IV_AT = DEK_AT + DEK;
const TAG_AT = IV_AT + IV;
const DATA_AT = TAG_AT + TAG;

/** Bytes a blob adds to its plaintext. */
export const RECORD_OVERHEAD = DATA_AT;

export interface EncryptedRecord {
  /** Self-describing blob: version, wrapped data key, IV, tag and ciphertext. */
  ciphertext: Uint8Array;
}

type PatientKeys = Pick<PatientKeyring, "keyFor" | "dataKey">;

/**
 * Encrypts one record for a patient under a fresh data key (envelope encryption, NIST SP 800-38D
 * AES-GCM). Creates the patient's key on first use.
 * @param keyring - the node's patient keyring
 * @param patient - whose record it is
 * @param plaintext - the record bytes
 * @param aad - the record's identity, e.g. `Observation/123/_history/2`; needed again to decrypt
 * @returns the blob to store
 * @throws BaseError("not-found") when the patient was erased
 */
export async function encryptRecord(
  keyring: PatientKeys,
  patient: string,
  plaintext: Uint8Array,
  aad: string,
): Promise<EncryptedRecord> {
  const patientKey = await keyring.keyFor(patient);
  const random = randomBytes(DEK + IV + IV);
  const dek = random.subarray(0, DEK);
  const dekIv = random.subarray(DEK, DEK + IV);
  const iv = random.subarray(DEK + IV);
  try {
    const wrap = seal(patientKey, dekIv, dekAad(aad), dek);
    const data = seal(dek, iv, dataAad(aad), plaintext);
    const blob = Buffer.allocUnsafe(DATA_AT + data.ciphertext.length);
    blob[0] = VERSION;
    dekIv.copy(blob, DEK_IV_AT);
    wrap.tag.copy(blob, DEK_TAG_AT);
    wrap.ciphertext.copy(blob, DEK_AT);
    iv.copy(blob, IV_AT);
    data.tag.copy(blob, TAG_AT);
    data.ciphertext.copy(blob, DATA_AT);
    return { ciphertext: blob };
  } finally {
    random.fill(0);
  }
}

/**
 * Decrypts a blob from {@link encryptRecord}. Never creates a patient key.
 * @param keyring - the node's patient keyring
 * @param patient - whose record it is
 * @param blob - the stored blob
 * @param aad - the same record identity given to `encryptRecord`
 * @returns the plaintext
 * @throws BaseError("not-found", "the patient's data was erased") after crypto-shredding;
 *   BaseError("internal") when the blob belongs to another record or patient, or was altered
 */
export async function decryptRecord(
  keyring: PatientKeys,
  patient: string,
  blob: Uint8Array,
  aad: string,
): Promise<Uint8Array> {
  if (blob.length < DATA_AT || blob[0] !== VERSION) {
    throw new BaseError("internal", "encrypted record has an unknown format");
  }
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  // The wrapped key with the record it is bound to: one cached data key per record version.
  const wrapped = `${aad}\0${bytes.toString("base64", DEK_IV_AT, IV_AT)}`;
  let dek: Buffer | undefined;
  try {
    dek = await keyring.dataKey(patient, wrapped, (patientKey) =>
      open(
        patientKey,
        bytes.subarray(DEK_IV_AT, DEK_TAG_AT),
        bytes.subarray(DEK_TAG_AT, DEK_AT),
        dekAad(aad),
        bytes.subarray(DEK_AT, IV_AT),
      ),
    );
    return open(
      dek,
      bytes.subarray(IV_AT, TAG_AT),
      bytes.subarray(TAG_AT, DATA_AT),
      dataAad(aad),
      bytes.subarray(DATA_AT),
    );
  } catch (cause) {
    // an erased or unknown patient key keeps its own error
    if (cause instanceof BaseError) throw cause;
    throw new BaseError(
      "internal",
      "record decryption failed: wrong record, wrong patient, or altered bytes",
      {
        cause,
      },
    );
  } finally {
    dek?.fill(0);
  }
}

function seal(key: KeyObject | Buffer, iv: Buffer, aad: Buffer, plaintext: Uint8Array) {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

function open(key: KeyObject | Buffer, iv: Buffer, tag: Buffer, aad: Buffer, ciphertext: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const head = decipher.update(ciphertext);
  // GCM is a stream mode: final() only checks the tag and returns no bytes (no copy then).
  const tail = decipher.final();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

// Distinct labels keep the two layers' AADs apart even for the same record.
function dekAad(aad: string): Buffer {
  return Buffer.from(`carechain/dek/v1\0${aad}`, "utf8");
}

function dataAad(aad: string): Buffer {
  return Buffer.from(`carechain/record/v1\0${aad}`, "utf8");
}
