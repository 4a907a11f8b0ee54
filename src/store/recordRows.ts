/**
 * The records' rows (src/records): the current version of a resource, one version, every version,
 * a page of versions, a patient's current resources, and the erasure of a patient's rows. On
 * SQLite the current row is read synchronously through {@link CurrentRowCache}; everywhere else
 * through Kysely, so the records room never sees the SQL dialect.
 */
import { eraseAtRest, type ErasureAtRest } from "./erasureRows.js";
import type { Kysely } from "kysely";
import type { Store } from "./database.js";
import type { Schema } from "./schema.js";
import { CurrentRowCache } from "./currentRowCache.js";
import {
  CANDIDATE_COLUMNS,
  STORED_VERSION_COLUMNS,
  type Candidate,
  type StoredVersion,
  type VersionKey,
} from "./recordColumns.js";

/** Versions looked up in one statement (stays under every engine's parameter limit). */
const PAGE_CHUNK = 300;

export class RecordRows {
  readonly #store: Store;
  readonly #cache: CurrentRowCache | undefined;

  constructor(store: Store) {
    this.#store = store;
    this.#cache = store.sqlite === undefined ? undefined : new CurrentRowCache(store.sqlite);
  }

  /** The current version of `type/id` with its ciphertext, or undefined when there is none. */
  async current(type: string, id: string): Promise<StoredVersion | undefined> {
    const fast = this.#cache === undefined ? null : this.#cache.get(type, id);
    if (fast !== null) return fast;
    return await this.#store.db
      .selectFrom("resources as r")
      .innerJoin("resource_versions as v", (j) =>
        j
          .onRef("v.type", "=", "r.type")
          .onRef("v.id", "=", "r.id")
          .onRef("v.version_id", "=", "r.version_id"),
      )
      .select([
        "r.type",
        "r.id",
        "r.version_id",
        "r.patient_id",
        "r.categories",
        "r.author_org",
        "r.last_updated",
        "r.deleted",
        "v.blob",
      ])
      .where("r.type", "=", type)
      .where("r.id", "=", id)
      .executeTakeFirst();
  }

  /** The current version's metadata only (what a write checks before replacing it). */
  async currentMeta(type: string, id: string): Promise<(Candidate & { deleted: number }) | undefined> {
    return await this.#store.db
      .selectFrom("resources")
      .select([...CANDIDATE_COLUMNS, "deleted"])
      .where("type", "=", type)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  /** The account that wrote one version. */
  async authorOf(v: VersionKey): Promise<string | undefined> {
    const row = await this.#store.db
      .selectFrom("resource_versions")
      .select("author")
      .where("type", "=", v.type)
      .where("id", "=", v.id)
      .where("version_id", "=", v.version_id)
      .executeTakeFirst();
    return row?.author;
  }

  /** One version of `type/id`. */
  async version(type: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
    return await this.#store.db
      .selectFrom("resource_versions")
      .select(STORED_VERSION_COLUMNS)
      .where("type", "=", type)
      .where("id", "=", id)
      .where("version_id", "=", versionId)
      .executeTakeFirst();
  }

  /** Every version of `type/id`, newest first. */
  async versions(type: string, id: string): Promise<StoredVersion[]> {
    return await this.#store.db
      .selectFrom("resource_versions")
      .select(STORED_VERSION_COLUMNS)
      .where("type", "=", type)
      .where("id", "=", id)
      .orderBy("version_id", "desc")
      .execute();
  }

  /** The named versions, keyed `type/id` (one version per resource). */
  async versionsAt(keys: readonly VersionKey[]): Promise<Map<string, StoredVersion>> {
    const out = new Map<string, StoredVersion>();
    for (let i = 0; i < keys.length; i += PAGE_CHUNK) {
      const chunk = keys.slice(i, i + PAGE_CHUNK);
      const rows = await this.#store.db
        .selectFrom("resource_versions")
        .select(STORED_VERSION_COLUMNS)
        .where((eb) =>
          eb.or(
            chunk.map((c) =>
              eb.and([eb("type", "=", c.type), eb("id", "=", c.id), eb("version_id", "=", c.version_id)]),
            ),
          ),
        )
        .execute();
      for (const r of rows) out.set(`${r.type}/${r.id}`, r);
    }
    return out;
  }

  /** The live (not deleted) current resources of the given Patients, by type then last update. */
  async ofPatients(patientIds: readonly string[]): Promise<Candidate[]> {
    if (patientIds.length === 0) return [];
    return await this.#store.db
      .selectFrom("resources")
      .select(CANDIDATE_COLUMNS)
      .where("patient_id", "in", patientIds)
      .where("deleted", "=", 0)
      .orderBy("type")
      .orderBy("last_updated")
      .execute();
  }

  /** Whether a resource of `type/id` exists (deleted or not). */
  async exists(type: string, id: string): Promise<boolean> {
    const row = await this.#store.db
      .selectFrom("resources")
      .select("id")
      .where("type", "=", type)
      .where("id", "=", id)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Whether any resource names this Patient. */
  async hasRecords(patientId: string): Promise<boolean> {
    const row = await this.#store.db
      .selectFrom("resources")
      .select("id")
      .where("patient_id", "=", patientId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * The database half of a patient's erasure ({@link eraseRows}), and the current-row cache
   * emptied.
   * @returns how many resources the Patient had
   */
  async erasePatient(patientId: string, atRest?: ErasureAtRest): Promise<number> {
    try {
      return await eraseRows(this.#store.db, patientId, atRest);
    } finally {
      this.#cache?.clear();
    }
  }

  /** Forgets the cached current row of `type/id` after this process changed it. */
  changed(type: string, id: string): void {
    this.#cache?.invalidate(type, id);
  }
}

/**
 * The database half of an erasure, after the patient's key is gone: every resource of the Patient
 * is marked deleted and loses its clinical sort date, and their search tokens are deleted, in one
 * transaction, with what identifies the patient's conditions outside the records ({@link eraseAtRest})
 * when `atRest` is given. Idempotent, so an erasure a crash cut short is finished by running it again.
 * @returns how many resources the Patient had
 */
export function eraseRows(db: Kysely<Schema>, patientId: string, atRest?: ErasureAtRest): Promise<number> {
  return db.transaction().execute(async (tx) => {
    if (atRest !== undefined) await eraseAtRest(tx, atRest);
    const rows = await tx
      .selectFrom("resources")
      .select(["type", "id"])
      .where("patient_id", "=", patientId)
      .execute();
    for (const r of rows)
      await tx.deleteFrom("search_tokens").where("type", "=", r.type).where("id", "=", r.id).execute();
    await tx
      .updateTable("resources")
      .set({ deleted: 1, sort_date: null })
      .where("patient_id", "=", patientId)
      .execute();
    return rows.length;
  });
}
