/**
 * The hot read's current row (metadata and ciphertext, never plaintext) on SQLite: a prepared
 * statement run synchronously, in front of it a bounded cache of recently read rows. The cache is
 * exact: this process's writes invalidate what they change (src/store/recordRows.ts calls
 * {@link CurrentRowCache.invalidate} after each commit), and `PRAGMA data_version`, which changes
 * whenever another connection (an operator's CLI, another process) commits, empties it. That
 * pragma is a read transaction of its own (file locks, a few microseconds), so it is asked at most
 * once per {@link RECHECK_MS}: another process's commit is seen within a millisecond, this
 * process's own at once.
 */
import type Database from "better-sqlite3";
import { STORED_VERSION_COLUMNS, type StoredVersion } from "./recordColumns.js";

/** The current version's row: the columns every StoredVersion query reads, `blob` from the version. */
const CURRENT_ROW_SQL = `select ${STORED_VERSION_COLUMNS.map((c) => (c === "blob" ? "v.blob" : `r.${c}`)).join(", ")}
  from resources as r
  inner join resource_versions as v on v.type = r.type and v.id = r.id and v.version_id = r.version_id
  where r.type = ? and r.id = ?`;

/** How stale another connection's commit may be seen, in milliseconds. */
export const RECHECK_MS = 1;

/** Rows kept; the oldest goes first. About 1-2 KiB each. */
const DEFAULT_CAPACITY = 4096;

export class CurrentRowCache {
  readonly #rows = new Map<string, StoredVersion>();
  readonly #read: Database.Statement<[string, string], StoredVersion>;
  readonly #dataVersion: Database.Statement<[], number>;
  #seenVersion = -1;
  #checkedAt = -Infinity;

  /**
   * @param handle - the store's SQLite handle
   * @param capacity - most rows kept (0 turns the cache off; the statement still runs synchronously)
   */
  constructor(
    private readonly handle: Database.Database,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {
    this.#read = handle.prepare<[string, string], StoredVersion>(CURRENT_ROW_SQL);
    this.#dataVersion = handle.prepare<[], number>("pragma data_version").pluck();
  }

  /**
   * The committed current row of `type/id`: undefined when there is none; null when it cannot be
   * read synchronously now (a Kysely transaction is open on the handle and the row is not cached),
   * and the caller takes the asynchronous path.
   */
  get(type: string, id: string): StoredVersion | undefined | null {
    if (!this.handle.open) return null;
    const key = `${type}/${id}`;
    if (this.capacity > 0) {
      const now = performance.now();
      if (now - this.#checkedAt >= RECHECK_MS) {
        this.#checkedAt = now;
        const version = this.#dataVersion.get() as number;
        if (version !== this.#seenVersion) {
          this.#rows.clear();
          this.#seenVersion = version;
        }
      }
      const cached = this.#rows.get(key);
      if (cached !== undefined) return cached;
    }
    // Uncommitted writes of an open transaction must not be seen (nor cached).
    if (this.handle.inTransaction) return null;
    const row = this.#read.get(type, id);
    if (row !== undefined && this.capacity > 0) {
      if (this.#rows.size >= this.capacity) {
        const oldest = this.#rows.keys().next();
        if (!oldest.done) this.#rows.delete(oldest.value);
      }
      this.#rows.set(key, row);
    }
    return row;
  }

  /** Forgets `type/id` after this process changed it. */
  invalidate(type: string, id: string): void {
    this.#rows.delete(`${type}/${id}`);
  }

  /** Forgets every row (after a change that touched many, such as an erase). */
  clear(): void {
    this.#rows.clear();
  }
}
