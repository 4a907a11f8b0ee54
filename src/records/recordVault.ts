/**
 * Where stored versions come from and how they open: the rows (src/store/recordRows.ts, with the
 * current-row cache), each version's category mask as the consent decision needs it, and the
 * decryption of a version's body under its patient's key. It decides nothing: the gate
 * (src/records/recordGate.ts) asks before anything is opened.
 */
import { decryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
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
}

export class RecordVault {
  readonly rows: RecordRows;
  readonly #keyring: PatientKeyring;

  constructor(rows: RecordRows, keyring: PatientKeyring) {
    this.rows = rows;
    this.#keyring = keyring;
  }

  /**
   * The category bitmask of one version.
   * @param row - the version as stored
   */
  mask(row: Pick<Candidate, "categories">): Promise<number> {
    return Promise.resolve(Number(row.categories));
  }

  /** The version a write of `type/id` replaces, with its mask, or undefined when there is none. */
  async currentVersion(type: string, id: string): Promise<CurrentVersion | undefined> {
    const row = await this.rows.currentMeta(type, id);
    if (row === undefined) return undefined;
    return {
      versionId: row.version_id,
      patientId: row.patient_id,
      categories: await this.mask(row),
      authorOrg: row.author_org,
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
