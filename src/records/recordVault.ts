/**
 * Where stored versions come from and how they open: the rows (src/store/recordRows.ts, with the
 * current-row cache), each version's category mask unblinded for the consent decision, and the
 * decryption of a version's body, both under its patient's key. It decides nothing: the gate
 * (src/records/recordGate.ts) asks before anything is opened.
 */
import { decryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import {
  blindMask,
  CONTENT_KEY_LABEL,
  keyedContentHash,
  MASK_KEY_LABEL,
  maskPad,
  unblindMask,
} from "./blinding.js";
import type { Candidate, StoredVersion } from "../store/recordColumns.js";
import type { RecordRows } from "../store/recordRows.js";
import type { FhirResource } from "./fhirTypes.js";
import { DIRECTORY_KEY } from "./recordWrite.js";

/** The version a write replaces, as stored (or as prepared earlier in the same bundle). */
export interface CurrentVersion {
  versionId: number;
  patientId: string | null;
  /** Category bitmask. */
  categories: number;
  authorOrg: string;
  /** Whether it is a delete marker. */
  deleted?: boolean;
}

export class RecordVault {
  readonly rows: RecordRows;
  readonly #keyring: PatientKeyring;
  /**
   * Unblinded masks by row object. Only as long as the row lives (the cache drops its rows at
   * every change and at erasure), and the gate checks erasure before it asks for a mask.
   */
  readonly #masks = new WeakMap<object, number>();

  constructor(rows: RecordRows, keyring: PatientKeyring) {
    this.rows = rows;
    this.#keyring = keyring;
  }

  /**
   * The category bitmask of one version, unblinded (src/records/blinding.ts).
   * @param row - the version as stored
   * @throws BaseError("not-found") when its patient was erased: the mask is gone with their key
   */
  async mask(
    row: Pick<Candidate, "type" | "id" | "version_id" | "patient_id" | "categories">,
  ): Promise<number> {
    // a row of the current-row cache is the same object read after read: unblind it once
    const known = this.#masks.get(row);
    if (known !== undefined) return known;
    const key = await this.#keyring.derivedKey(keyIdOf(row.patient_id), MASK_KEY_LABEL);
    const mask = unblindMask(Number(row.categories), maskPad(key, row.type, row.id, row.version_id));
    this.#masks.set(row, mask);
    return mask;
  }

  /**
   * The stored form of a new version's mask. The patient's key must exist (the version's body
   * is encrypted first, which creates it).
   */
  async blind(
    patientId: string | undefined,
    type: string,
    id: string,
    versionId: number,
    mask: number,
  ): Promise<number> {
    const key = await this.#keyring.derivedKey(keyIdOf(patientId), MASK_KEY_LABEL);
    return blindMask(mask, maskPad(key, type, id, versionId));
  }

  /** The stored content hash of a new version's canonical JSON (its patient's key must exist). */
  async contentHash(patientId: string | undefined, canonical: Uint8Array): Promise<string> {
    return keyedContentHash(await this.#keyring.derivedKey(keyIdOf(patientId), CONTENT_KEY_LABEL), canonical);
  }

  /**
   * The version a write of `type/id` replaces, with its mask (none when its patient was erased:
   * the mask went with their key), or undefined when there is none.
   */
  async currentVersion(type: string, id: string): Promise<CurrentVersion | undefined> {
    const row = await this.rows.currentMeta(type, id);
    if (row === undefined) return undefined;
    const erased = row.patient_id !== null && (await this.#keyring.isErased(keyIdOf(row.patient_id)));
    return {
      versionId: row.version_id,
      patientId: row.patient_id,
      categories: erased ? 0 : await this.mask(row),
      authorOrg: row.author_org,
      deleted: Number(row.deleted) !== 0,
    };
  }

  /** One version, decrypted and parsed. */
  async open(row: StoredVersion): Promise<FhirResource> {
    return JSON.parse(await this.openText(row)) as FhirResource;
  }

  /** The stored canonical JSON (RFC 8785) of one version, decrypted. */
  async openText(row: StoredVersion): Promise<string> {
    if (!row.blob) throw new BaseError("not-found", `${row.type}/${row.id} has no content`);
    const plain = await decryptRecord(
      this.#keyring,
      keyIdOf(row.patient_id),
      row.blob,
      `${row.type}/${row.id}/_history/${row.version_id}`,
    );
    return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength).toString("utf8");
  }
}

/** The key a version is encrypted under: its patient's, or the directory's. */
export function keyIdOf(patientId: string | null | undefined): string {
  return patientId ? `Patient/${patientId}` : DIRECTORY_KEY;
}
