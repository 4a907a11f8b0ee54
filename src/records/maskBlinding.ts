/**
 * Blinds the category masks and content hashes a database still holds in clear (from before they
 * were blinded), at the node's start and before it serves. A version whose patient was erased
 * gets random values: their key is gone, and so must be what their rows said in clear.
 */
import { randomBytes } from "node:crypto";
import { decryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import { clearMaskRows, storeBlindedMasks, type ClearMaskRow } from "../store/recordMasks.js";
import { blindMask, CONTENT_KEY_LABEL, keyedContentHash, MASK_KEY_LABEL, maskPad } from "./blinding.js";
import { keyIdOf } from "./recordVault.js";

/**
 * Replaces every clear mask and content hash with its blinded form, once per database (another
 * process doing it at the same time writes nothing twice).
 * @returns how many versions were blinded by this call
 */
export async function blindClearMasks(store: Store, keyring: PatientKeyring): Promise<number> {
  const rows = await clearMaskRows(store);
  if (rows.length === 0) return 0;
  const live = new Map<string, boolean>();
  const blinded = [];
  for (const row of rows) {
    const keyId = keyIdOf(row.patient_id);
    if (!live.has(keyId)) live.set(keyId, !(await keyring.isErased(keyId)) && (await hasKey(keyring, keyId)));
    blinded.push(live.get(keyId) ? await blindOne(keyring, keyId, row) : { row, ...shredded() });
  }
  return (await storeBlindedMasks(store, blinded)) ? blinded.length : 0;
}

async function blindOne(keyring: PatientKeyring, keyId: string, row: ClearMaskRow) {
  const maskKey = await keyring.derivedKey(keyId, MASK_KEY_LABEL);
  const stored = blindMask(row.categories, maskPad(maskKey, row.type, row.id, row.version_id));
  const contentKey = await keyring.derivedKey(keyId, CONTENT_KEY_LABEL);
  const body =
    row.blob === null
      ? randomBytes(32)
      : await decryptRecord(keyring, keyId, row.blob, `${row.type}/${row.id}/_history/${row.version_id}`);
  return { row, stored, contentHash: keyedContentHash(contentKey, body) };
}

/** What an erased patient's row holds instead: values no key opens. */
function shredded(): { stored: number; contentHash: string } {
  return { stored: randomBytes(4).readUInt32BE(0), contentHash: `0x${randomBytes(32).toString("hex")}` };
}

/** Whether the patient has a key (erased ones and ones that never had one have none). */
async function hasKey(keyring: PatientKeyring, keyId: string): Promise<boolean> {
  try {
    await keyring.keyFor(keyId, { create: false });
    return true;
  } catch (error) {
    if (error instanceof BaseError && error.kind === "not-found") return false;
    throw error;
  }
}
