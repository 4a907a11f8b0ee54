/**
 * Reading stored audit entries: one by index, a page in index order (all, or one patient's through
 * the deferred patient index), and a database scan for rare markers in the entry text. Appending,
 * proofs and tree heads are the log's (src/audit/auditLog.ts).
 */
import type { Kysely } from "kysely";
import type { AuditEntryTable, Schema } from "../store/schema.js";
import { decodeAuditEntry, patientKey, type LoggedAuditEntry } from "./auditEntry.js";
import { patientEntries } from "./patientIndex.js";

/** An entry as stored, with its position and leaf hash. */
export interface StoredAuditEntry {
  index: number;
  entry: LoggedAuditEntry;
  /** The canonical JSON that was hashed. */
  text: string;
  leafHash: Uint8Array;
  createdAt: number;
}

export interface EntryQuery {
  /** Only entries about this patient (address or pseudonymous id). */
  patient?: string;
  /** Only entries with a larger index (for paging). */
  afterIndex?: number;
  /** Default 100, at most 1000. */
  limit?: number;
}

/** One stored entry, or undefined when there is none at `index`. */
export async function readEntry(db: Kysely<Schema>, index: number): Promise<StoredAuditEntry | undefined> {
  const row = await db.selectFrom("audit_entries").selectAll().where("idx", "=", index).executeTakeFirst();
  return row === undefined ? undefined : fromRow(row);
}

/** Entries in index order, optionally only a patient's (see `AuditLog.entries`). */
export async function readEntries(db: Kysely<Schema>, query: EntryQuery = {}): Promise<StoredAuditEntry[]> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
  if (query.patient !== undefined) {
    const rows = await patientEntries(db, patientKey(query.patient), query.afterIndex ?? -1, limit);
    return rows.map(fromRow);
  }
  let q = db.selectFrom("audit_entries").selectAll().orderBy("idx", "asc").limit(limit);
  if (query.afterIndex !== undefined) q = q.where("idx", ">", query.afterIndex);
  return (await q.execute()).map(fromRow);
}

/** Entries in `(afterIndex, throughIndex]` whose text contains one of `needles` (a LIKE scan). */
export async function readEntriesContaining(
  db: Kysely<Schema>,
  needles: readonly string[],
  range: { afterIndex: number; throughIndex: number },
  limit: number,
): Promise<StoredAuditEntry[]> {
  const rows = await db
    .selectFrom("audit_entries")
    .selectAll()
    .where("idx", ">", range.afterIndex)
    .where("idx", "<=", range.throughIndex)
    .where((eb) => eb.or(needles.map((n) => eb("entry", "like", `%${n}%`))))
    .orderBy("idx", "asc")
    .limit(limit)
    .execute();
  return rows.map(fromRow);
}

function fromRow(row: AuditEntryTable): StoredAuditEntry {
  return {
    index: Number(row.idx),
    entry: decodeAuditEntry(row.entry),
    text: row.entry,
    leafHash: row.leaf_hash,
    createdAt: Number(row.created_at),
  };
}
