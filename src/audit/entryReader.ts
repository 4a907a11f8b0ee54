/**
 * Reading stored audit entries: one by index, a page in index order (all, or one patient's through
 * the deferred patient index), and a database scan for rare markers in the entry text. Appending,
 * proofs and tree heads are the log's (src/audit/auditLog.ts).
 */
import type { Kysely } from "kysely";
import type { AuditEntryTable, AuditOpeningTable, Schema } from "../store/schema.js";
import {
  decodeAuditEntry,
  openedEntry,
  opens,
  patientKey,
  type AuditOpening,
  type LoggedAuditEntry,
} from "./auditEntry.js";
import { patientEntries } from "./patientIndex.js";

/** An entry as stored, with its position and leaf hash. */
export interface StoredAuditEntry {
  index: number;
  entry: LoggedAuditEntry;
  /** The canonical JSON that was hashed. */
  text: string;
  leafHash: Uint8Array;
  createdAt: number;
  /**
   * The opening of a version 2 entry's commitment, as stored in `audit_openings` (absent when the
   * entry has no commitment, or its patient erased their record). It may not open the commitment:
   * see `opened`.
   */
  opening?: AuditOpening;
  /** `entry` with the facts of an opening that opens its commitment put back (for display). */
  opened: LoggedAuditEntry;
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
  return row === undefined ? undefined : (await withOpenings(db, [row]))[0];
}

/** Entries in index order, optionally only a patient's (see `AuditLog.entries`). */
export async function readEntries(db: Kysely<Schema>, query: EntryQuery = {}): Promise<StoredAuditEntry[]> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
  if (query.patient !== undefined) {
    const rows = await patientEntries(db, patientKey(query.patient), query.afterIndex ?? -1, limit);
    return withOpenings(db, rows);
  }
  let q = db.selectFrom("audit_entries").selectAll().orderBy("idx", "asc").limit(limit);
  if (query.afterIndex !== undefined) q = q.where("idx", ">", query.afterIndex);
  return withOpenings(db, await q.execute());
}

/**
 * The indexes of every entry about `patient` (through the patient index and the unindexed tail),
 * for deleting their openings at erasure.
 */
export async function patientEntryIndexes(db: Kysely<Schema>, patient: string): Promise<number[]> {
  const out: number[] = [];
  const key = patientKey(patient);
  for (let after = -1; ;) {
    const rows = await patientEntries(db, key, after, 1000);
    for (const r of rows) out.push(Number(r.idx));
    if (rows.length < 1000) return out;
    after = Number(rows[rows.length - 1]!.idx);
  }
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
  return withOpenings(db, rows);
}

/** Rows per lookup of openings (bound parameters). */
const OPENINGS_PER_QUERY = 1000;

/** The rows as stored entries, with the openings of their commitments read in one query per page. */
async function withOpenings(
  db: Kysely<Schema>,
  rows: readonly AuditEntryTable[],
): Promise<StoredAuditEntry[]> {
  const entries = rows.map((row) => ({ row, entry: decodeAuditEntry(row.entry) }));
  const wanted = entries.filter((e) => e.entry.commitment !== undefined).map((e) => Number(e.row.idx));
  const openings = new Map<number, AuditOpeningTable>();
  for (let at = 0; at < wanted.length; at += OPENINGS_PER_QUERY) {
    const found = await db
      .selectFrom("audit_openings")
      .selectAll()
      .where("idx", "in", wanted.slice(at, at + OPENINGS_PER_QUERY))
      .execute();
    for (const o of found) openings.set(Number(o.idx), o);
  }
  return entries.map(({ row, entry }) => {
    const stored = openings.get(Number(row.idx));
    const opening = stored === undefined ? undefined : openingOf(stored);
    return {
      index: Number(row.idx),
      entry,
      text: row.entry,
      leafHash: row.leaf_hash,
      createdAt: Number(row.created_at),
      ...(opening === undefined ? {} : { opening }),
      opened: opening !== undefined && opens(entry, opening) ? openedEntry(entry, opening) : entry,
    };
  });
}

/** An opening row as the verifier takes it: salt and facts side by side (unparsable facts: none). */
function openingOf(row: AuditOpeningTable): AuditOpening {
  let facts: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(row.facts);
    if (typeof parsed === "object" && parsed !== null) facts = parsed as Record<string, unknown>;
  } catch {
    // a damaged row opens nothing; the commitment check reports it
  }
  return { ...facts, salt: row.salt } as AuditOpening;
}
