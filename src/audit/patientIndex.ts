/**
 * The audit log's deferred patient index. Appends write only `audit_entries`; a per-row secondary
 * index on the patient would dirty one random index page per entry on every commit. Instead
 * {@link PatientIndexer} copies (patient, idx) pairs into `audit_patient_runs` in bulk a moment
 * after the appends, and advances a watermark in `meta` in the same transaction. Pairs are keyed
 * by run first (`run = floor(idx / AUDIT_PATIENT_RUN)`), so a step writes into the pages of the
 * newest run only, however long the log. {@link patientEntries} seeks each run below the
 * watermark and scans only the not-yet-indexed tail above it, so a patient's entries are complete
 * as soon as their append resolved, on any process sharing the database.
 */
import type { Kysely } from "kysely";
import { indexAuditPatients, type AuditPatientPair } from "../store/auditRows.js";
import type { Store } from "../store/database.js";
import type { AuditEntryTable, Schema } from "../store/schema.js";
import { AUDIT_PATIENT_WATERMARK } from "../store/migrations/007_audit_patient_index.js";
import { AUDIT_PATIENT_RUN } from "../store/migrations/010_audit_patient_runs.js";

/**
 * Entries indexed per transaction, never across a run's end: bounds how long one step holds the
 * SQLite handle (and with it the event loop).
 */
const CHUNK = 8192;
/** Runs one lookup query seeks at most (bound parameters). */
const RUNS_PER_QUERY = 500;

const runOf = (idx: number): number => Math.floor(idx / AUDIT_PATIENT_RUN);

/**
 * The index watermark: every entry with a smaller index is in `audit_patient_runs`.
 * @param db - the store's Kysely instance
 * @returns the watermark (0 when nothing was indexed)
 */
export async function indexedUpTo(db: Kysely<Schema>): Promise<number> {
  const row = await db
    .selectFrom("meta")
    .select("value")
    .where("key", "=", AUDIT_PATIENT_WATERMARK)
    .executeTakeFirst();
  return row === undefined ? 0 : Number(row.value);
}

/**
 * A patient's entries in index order: the indexed part below the watermark, then the tail above
 * it scanned by primary key. Complete and without duplicates whatever the indexer does meanwhile,
 * since the watermark only moves after its rows are committed.
 * @param db - the store's Kysely instance
 * @param patient - the stored patient key
 * @param afterIndex - only entries with a larger index (-1 for all)
 * @param limit - most entries returned
 * @returns the rows
 */
export async function patientEntries(
  db: Kysely<Schema>,
  patient: string,
  afterIndex: number,
  limit: number,
): Promise<AuditEntryTable[]> {
  const watermark = await indexedUpTo(db);
  let indexed: AuditEntryTable[] = [];
  // One seek per run, runs in order, until the page is full.
  for (let run = runOf(afterIndex + 1); afterIndex + 1 < watermark && run <= runOf(watermark - 1);) {
    const runs: number[] = [];
    for (; runs.length < RUNS_PER_QUERY && run <= runOf(watermark - 1); run++) runs.push(run);
    const rows = await db
      .selectFrom("audit_patient_runs as p")
      .innerJoin("audit_entries as e", "e.idx", "p.idx")
      .selectAll("e")
      .where("p.run", "in", runs)
      .where("p.patient", "=", patient)
      .where("p.idx", ">", afterIndex)
      .where("p.idx", "<", watermark)
      .orderBy("p.idx", "asc")
      .limit(limit - indexed.length)
      .execute();
    indexed = indexed.concat(rows);
    if (indexed.length >= limit) return indexed;
  }
  const tail = await db
    .selectFrom("audit_entries")
    .selectAll()
    .where("idx", ">=", Math.max(watermark, afterIndex + 1))
    .where("patient", "=", patient)
    .orderBy("idx", "asc")
    .limit(limit - indexed.length)
    .execute();
  return indexed.concat(tail);
}

/** Most patients of unindexed entries kept in memory; beyond, the index reads them back. */
const MAX_BUFFERED = 1_000_000;

export interface PatientIndexerOptions {
  /** How long after an append the index catches up (default 500 ms). */
  delayMs?: number;
  /** Writes one step (default: `indexAuditPatients` on the store; the audit log may hand it to its writing thread). */
  write?: (from: number, to: number, known: AuditPatientPair[] | undefined) => Promise<void>;
}

/**
 * Keeps `audit_patient_runs` close behind the log: {@link PatientIndexer.appended} schedules a
 * catch-up step on a timer, which indexes everything below the log's size in chunks. Failures are
 * retried on the next append; lookups stay complete meanwhile through the tail scan.
 */
export class PatientIndexer {
  readonly #store: Store;
  readonly #delayMs: number;
  readonly #write: NonNullable<PatientIndexerOptions["write"]>;
  #target = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Patients of committed entries `#bufferFrom ..`, in index order, not yet indexed. */
  #buffer: Array<string | null> = [];
  #bufferFrom = 0;

  constructor(store: Store, options: PatientIndexerOptions = {}) {
    this.#store = store;
    this.#delayMs = Math.max(0, options.delayMs ?? 500);
    this.#write = options.write ?? ((from, to, known) => indexAuditPatients(store, from, to, known));
  }

  /**
   * Notes that the log holds `size` committed entries; the index follows within the delay.
   * @param batch - the patients of the entries just committed from index `first` (null: none), kept
   *   in memory so the index need not read them back; without it, or after a gap, it reads them
   */
  appended(size: number, batch?: { first: number; patients: ReadonlyArray<string | null> }): void {
    if (batch !== undefined) this.#remember(batch.first, batch.patients);
    if (size > this.#target) this.#target = size;
    if (this.#timer !== undefined || this.#running !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A failed step (say, the store closing) is retried after the next append.
      this.catchUp().catch(() => undefined);
    }, this.#delayMs);
    this.#timer.unref();
  }

  /**
   * Indexes every entry below the size last noted.
   * @throws what the database threw; the watermark then stays where the last committed step left it
   */
  async catchUp(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#running !== undefined) await this.#running;
    const run = this.#indexAll();
    this.#running = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      this.#running = undefined;
    }
  }

  /** Stops the timer (the database may be closed after this). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #indexAll(): Promise<void> {
    const target = this.#target;
    let from = await indexedUpTo(this.#store.db);
    while (from < target) {
      const to = Math.min(target, from + CHUNK, (runOf(from) + 1) * AUDIT_PATIENT_RUN);
      await this.#write(from, to, this.#pairs(from, to));
      this.#forget(to);
      from = to;
      if (from < target) await new Promise((r) => setImmediate(r));
    }
  }

  #remember(first: number, patients: ReadonlyArray<string | null>): void {
    if (first !== this.#bufferFrom + this.#buffer.length || this.#buffer.length > MAX_BUFFERED) {
      // A gap (another process appended, or entries from before a restart): start over here.
      this.#buffer = [];
      this.#bufferFrom = first;
    }
    for (const p of patients) this.#buffer.push(p);
  }

  /** The pairs of `[from, to)` from memory, when the buffer holds all of them. */
  #pairs(from: number, to: number): AuditPatientPair[] | undefined {
    if (from < this.#bufferFrom || to > this.#bufferFrom + this.#buffer.length) return undefined;
    const pairs: AuditPatientPair[] = [];
    for (let idx = from; idx < to; idx++) {
      const patient = this.#buffer[idx - this.#bufferFrom];
      if (patient !== null && patient !== undefined) pairs.push({ patient, idx });
    }
    return pairs;
  }

  /** Drops what lies below the new watermark. */
  #forget(upTo: number): void {
    const drop = Math.min(this.#buffer.length, Math.max(0, upTo - this.#bufferFrom));
    if (drop === 0) return;
    this.#buffer = this.#buffer.slice(drop);
    this.#bufferFrom += drop;
  }
}
