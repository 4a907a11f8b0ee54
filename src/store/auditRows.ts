/**
 * The audit log's bulk writes, where the SQL dialect shows: the batched entry insert (cached
 * prepared multi-row statements run synchronously on SQLite, one multi-row statement per chunk on
 * PostgreSQL), the deferred patient index's bulk copy, and the persisted patient map. src/audit
 * calls these and does not know which engine is underneath.
 */
import type Database from "better-sqlite3";
import { CompiledQuery, sql, type Kysely, type Transaction } from "kysely";
import { BaseError } from "../errors/BaseError.js";
import type { Dialect, Store } from "./database.js";
import { AUDIT_PATIENT_WATERMARK } from "./migrations/007_audit_patient_index.js";
import { AUDIT_PATIENT_RUN } from "./migrations/010_audit_patient_runs.js";
import { AUDIT_PATIENT_MAP_SIZE } from "./migrations/015_audit_patient_map.js";
import type {
  AuditEntryTable,
  AuditOpeningTable,
  AuditPatientMapTable,
  AuditPatientRunTable,
  Schema,
} from "./schema.js";

/** One row of `audit_entries`. */
export type AuditEntryRow = AuditEntryTable;
/** One (patient, entry) pair of the deferred patient index. */
export type AuditPatientPair = Pick<AuditPatientRunTable, "patient" | "idx">;
/** One patient's persisted map value: `entry_count` entries up to and including `last_idx`. */
export type AuditPatientMapRow = AuditPatientMapTable;

/** Rows per INSERT, far below SQLite's 32766 and PostgreSQL's 65535 bound parameters. */
const ENTRY_CHUNK = 1000;
/** Most rows per multi-row statement on the synchronous SQLite path. */
const SQLITE_ROWS = 64;

interface Table {
  head: string;
  columns: number;
  tail?: string;
}

const ENTRY_INSERT: Table = {
  head: "insert into audit_entries (idx, entry, leaf_hash, patient, created_at, subtrees) values ",
  columns: 6,
};
const OPENING_INSERT: Table = {
  head: "insert into audit_openings (idx, salt, facts) values ",
  columns: 3,
};
const PAIR_INSERT: Table = {
  head: "insert into audit_patient_runs (run, patient, idx) values ",
  columns: 3,
  tail: " on conflict do nothing",
};
const MAP_UPSERT: Table = {
  head: "insert into audit_patient_map (patient, last_idx, entry_count) values ",
  columns: 3,
  // A row only moves forward: two processes persisting the same map never step it back.
  tail:
    " on conflict (patient) do update set last_idx = excluded.last_idx, entry_count = excluded.entry_count" +
    " where excluded.last_idx > audit_patient_map.last_idx",
};

const toBuffer = (b: Uint8Array): Buffer =>
  Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The values of one entry row, in {@link ENTRY_INSERT}'s column order. */
function pushEntry(params: unknown[], e: AuditEntryRow): void {
  const subtrees = e.subtrees === null ? null : toBuffer(e.subtrees);
  params.push(e.idx, e.entry, toBuffer(e.leaf_hash), e.patient, e.created_at, subtrees);
}

/** The flattened parameters of entry rows and of openings, in their statements' column order. */
function flatten(
  rows: readonly AuditEntryRow[],
  openings: readonly AuditOpeningTable[],
): { values: unknown[]; opened: unknown[] } {
  const values: unknown[] = [];
  for (const e of rows) pushEntry(values, e);
  const opened: unknown[] = [];
  for (const o of openings) opened.push(o.idx, o.salt, o.facts);
  return { values, opened };
}

const sqlCache = new Map<string, string>();

/**
 * A multi-row INSERT with placeholders, built once per shape: appends are the hot path, and
 * skipping the query builder's per-row work doubles their throughput.
 */
function insertSql(dialect: Dialect, table: Table, rows: number): string {
  const key = `${dialect}:${table.head}:${rows}`;
  let text = sqlCache.get(key);
  if (text === undefined) {
    const tuples: string[] = [];
    for (let r = 0, p = 1; r < rows; r++) {
      const marks: string[] = [];
      for (let c = 0; c < table.columns; c++, p++) marks.push(dialect === "postgres" ? `$${p}` : "?");
      tuples.push(`(${marks.join(", ")})`);
    }
    text = table.head + tuples.join(", ") + (table.tail ?? "");
    if (sqlCache.size > 512) sqlCache.clear();
    sqlCache.set(key, text);
  }
  return text;
}

/** Runs `values` (flattened rows of `table`) as multi-row statements of at most `per` rows. */
async function insertChunks(
  trx: Kysely<Schema> | Transaction<Schema>,
  dialect: Dialect,
  table: Table,
  values: unknown[],
  per = ENTRY_CHUNK,
): Promise<void> {
  const width = table.columns;
  const rows = values.length / width;
  for (let at = 0; at < rows; at += per) {
    const count = Math.min(per, rows - at);
    const params = count === rows ? values : values.slice(at * width, (at + count) * width);
    await trx.executeQuery(CompiledQuery.raw(insertSql(dialect, table, count), params));
  }
}

interface SqliteStatements {
  /** Multi-row statements by table and row count (1..SQLITE_ROWS), prepared on first use. */
  inserts: Map<string, Database.Statement>;
  begin: Database.Statement;
  commit: Database.Statement;
  rollback: Database.Statement;
  pairs: Database.Statement<[number, number], [string, number]>;
  watermark: Database.Statement<[string, string, number]>;
}

const statementCache = new WeakMap<Database.Database, SqliteStatements>();

function sqliteStatements(handle: Database.Database): SqliteStatements {
  let s = statementCache.get(handle);
  if (s === undefined) {
    s = {
      inserts: new Map(),
      begin: handle.prepare("begin immediate"),
      commit: handle.prepare("commit"),
      rollback: handle.prepare("rollback"),
      pairs: handle
        .prepare<[number, number], [string, number]>(
          "select patient, idx from audit_entries where idx >= ? and idx < ? and patient is not null",
        )
        .raw(true),
      watermark: handle.prepare<[string, string, number]>(
        "update meta set value = ? where key = ? and cast(value as integer) < ?",
      ),
    };
    statementCache.set(handle, s);
  }
  return s;
}

/** Runs `values` (flattened rows of `table`) as cached statements of at most SQLITE_ROWS rows. */
function insertRowsSqlite(
  handle: Database.Database,
  s: SqliteStatements,
  table: Table,
  values: unknown[],
): void {
  const width = table.columns;
  const rows = values.length / width;
  for (let at = 0; at < rows; at += SQLITE_ROWS) {
    const count = Math.min(SQLITE_ROWS, rows - at);
    const key = `${table.head}${count}`;
    let statement = s.inserts.get(key);
    if (statement === undefined) {
      statement = handle.prepare(insertSql("sqlite", table, count));
      s.inserts.set(key, statement);
    }
    statement.run(count === rows ? values : values.slice(at * width, (at + count) * width));
  }
}

/** Runs `work` in one transaction of cached statements on `handle`: committed when it returns, rolled back when it throws. */
function sqliteTransaction(handle: Database.Database, work: (s: SqliteStatements) => void): void {
  if (handle.inTransaction) throw new BaseError("internal", "audit write inside an open transaction");
  const s = sqliteStatements(handle);
  s.begin.run();
  try {
    work(s);
    s.commit.run();
  } catch (error) {
    if (handle.inTransaction) s.rollback.run();
    throw error;
  }
}

/**
 * Appends entry rows and the openings of their commitments on the SQLite connection `handle`,
 * synchronously and atomically, with cached prepared multi-row statements: a batch of up to 64
 * rows without openings is one statement, committed on its own (autocommit: atomic, and two
 * statements cheaper); anything larger is one transaction. `handle` is a connection of the
 * caller's own (src/audit/entryWriterWorker.ts) or the store's while holding Kysely's connection.
 * @throws what SQLite threw (nothing is written then)
 */
export function writeAuditRowsSync(
  handle: Database.Database,
  rows: readonly AuditEntryRow[],
  openings: readonly AuditOpeningTable[] = [],
): void {
  if (rows.length === 0) return;
  if (handle.inTransaction) throw new BaseError("internal", "audit write inside an open transaction");
  const { values, opened } = flatten(rows, openings);
  if (rows.length <= SQLITE_ROWS && opened.length === 0) {
    insertRowsSqlite(handle, sqliteStatements(handle), ENTRY_INSERT, values);
    return;
  }
  sqliteTransaction(handle, (s) => {
    insertRowsSqlite(handle, s, ENTRY_INSERT, values);
    if (opened.length > 0) insertRowsSqlite(handle, s, OPENING_INSERT, opened);
  });
}

/**
 * Appends a batch of entry rows, and the openings of their commitments, atomically: all of them
 * or none. On SQLite, {@link writeAuditRowsSync} on the store's connection (no statement
 * preparation, no await per statement); on PostgreSQL, one multi-row statement per 1,000 rows
 * (one statement needs no transaction).
 * @param store - the store
 * @param rows - entry rows, in index order
 * @throws what the database threw; `isUniqueViolation` (src/store/uniqueViolation.ts) tells a concurrent writer's conflict
 */
export async function insertAuditEntries(
  store: Store,
  rows: readonly AuditEntryRow[],
  openings: readonly AuditOpeningTable[] = [],
): Promise<void> {
  if (rows.length === 0) return;
  const handle = store.sqlite;
  if (handle !== undefined) {
    await store.db.connection().execute(async () => writeAuditRowsSync(handle, rows, openings));
    return;
  }
  const { values, opened } = flatten(rows, openings);
  if (rows.length <= ENTRY_CHUNK && opened.length === 0) {
    await insertChunks(store.db, store.dialect, ENTRY_INSERT, values);
    return;
  }
  await store.db.transaction().execute(async (trx) => {
    await insertChunks(trx, store.dialect, ENTRY_INSERT, values);
    if (opened.length > 0) await insertChunks(trx, store.dialect, OPENING_INSERT, opened);
  });
}

/**
 * Raises the integer in `meta` under `key` to `value`, never lowering it (two processes may race),
 * inside `trx`: the PostgreSQL twin of the SQLite `watermark` statement.
 */
async function raiseMeta(trx: Transaction<Schema>, key: string, value: number): Promise<void> {
  await trx
    .updateTable("meta")
    .set({ value: String(value) })
    .where("key", "=", key)
    .where(sql<number>`cast(value as bigint)`, "<", value)
    .execute();
}

const runOf = (idx: number): number => Math.floor(idx / AUDIT_PATIENT_RUN);

/** The index's key order: run, then patient, then index. */
function byKey(a: AuditPatientPair, b: AuditPatientPair): number {
  const run = runOf(a.idx) - runOf(b.idx);
  if (run !== 0) return run;
  return a.patient < b.patient ? -1 : a.patient > b.patient ? 1 : a.idx - b.idx;
}

function pairValues(pairs: AuditPatientPair[]): unknown[] {
  pairs.sort(byKey);
  const values: unknown[] = [];
  for (const p of pairs) values.push(runOf(p.idx), p.patient, p.idx);
  return values;
}

/**
 * {@link indexAuditPatients} on the SQLite connection `handle`, synchronously (a connection of the
 * caller's own, src/audit/entryWriterWorker.ts, or the store's while holding Kysely's connection).
 */
export function indexAuditPatientsSync(
  handle: Database.Database,
  from: number,
  to: number,
  known?: AuditPatientPair[],
): void {
  sqliteTransaction(handle, (s) => {
    const pairs = known ?? s.pairs.all(from, to).map(([patient, idx]) => ({ patient, idx }));
    insertRowsSqlite(handle, s, PAIR_INSERT, pairValues(pairs));
    s.watermark.run(String(to), AUDIT_PATIENT_WATERMARK, to);
  });
}

/**
 * Copies the (patient, idx) pairs of entries `[from, to)` into the deferred patient index, in key
 * order, and raises its watermark to `to`, in one transaction. Idempotent: another process
 * indexing the same range at the same time inserts nothing twice and never lowers the watermark.
 * @param store - the store
 * @param from - the current watermark
 * @param to - the new watermark; every entry below it must be committed
 * @param known - the pairs of the range when the caller has them (else they are read)
 */
export async function indexAuditPatients(
  store: Store,
  from: number,
  to: number,
  known?: AuditPatientPair[],
): Promise<void> {
  const handle = store.sqlite;
  if (handle !== undefined) {
    await store.db.connection().execute(async () => indexAuditPatientsSync(handle, from, to, known));
    return;
  }
  await store.db.transaction().execute(async (trx) => {
    const pairs =
      known ??
      (
        await trx
          .selectFrom("audit_entries")
          .select(["patient", "idx"])
          .where("idx", ">=", from)
          .where("idx", "<", to)
          .where("patient", "is not", null)
          .execute()
      ).map((r) => ({ patient: r.patient as string, idx: Number(r.idx) }));
    await insertChunks(trx, store.dialect, PAIR_INSERT, pairValues(pairs), 5000);
    await raiseMeta(trx, AUDIT_PATIENT_WATERMARK, to);
  });
}

/**
 * The persisted patient map: every row, and the log size it describes (every entry about a
 * patient below that size is counted in the patient's row; a row may count later ones too).
 * @param db - the store's Kysely instance
 */
export async function readPatientMap(
  db: Kysely<Schema>,
): Promise<{ size: number; rows: AuditPatientMapRow[] }> {
  const size = await db
    .selectFrom("meta")
    .select("value")
    .where("key", "=", AUDIT_PATIENT_MAP_SIZE)
    .executeTakeFirst();
  const rows = await db.selectFrom("audit_patient_map").selectAll().execute();
  return {
    size: Number(size?.value ?? 0),
    rows: rows.map((r) => ({
      patient: r.patient,
      last_idx: Number(r.last_idx),
      entry_count: Number(r.entry_count),
    })),
  };
}

/**
 * Writes one transaction of a patient-map persist: upserts `rows` and, with the last chunk, raises
 * the persisted size to `sizeIfLast`.
 */
export type PatientMapChunkWriter = (
  rows: AuditPatientMapRow[],
  sizeIfLast: number | undefined,
) => Promise<void>;

const mapValues = (rows: readonly AuditPatientMapRow[]): unknown[] => {
  const values: unknown[] = [];
  for (const r of rows) values.push(r.patient, r.last_idx, r.entry_count);
  return values;
};

/** {@link PatientMapChunkWriter} on the SQLite connection `handle`, synchronously. */
export function writePatientMapChunkSync(
  handle: Database.Database,
  rows: readonly AuditPatientMapRow[],
  sizeIfLast: number | undefined,
): void {
  sqliteTransaction(handle, (s) => {
    insertRowsSqlite(handle, s, MAP_UPSERT, mapValues(rows));
    if (sizeIfLast !== undefined) s.watermark.run(String(sizeIfLast), AUDIT_PATIENT_MAP_SIZE, sizeIfLast);
  });
}

/** {@link PatientMapChunkWriter} on the store's connection. */
export async function writePatientMapChunk(
  store: Store,
  rows: readonly AuditPatientMapRow[],
  sizeIfLast: number | undefined,
): Promise<void> {
  const handle = store.sqlite;
  if (handle !== undefined) {
    await store.db.connection().execute(async () => writePatientMapChunkSync(handle, rows, sizeIfLast));
    return;
  }
  await store.db.transaction().execute(async (trx) => {
    await insertChunks(trx, store.dialect, MAP_UPSERT, mapValues(rows));
    if (sizeIfLast !== undefined) await raiseMeta(trx, AUDIT_PATIENT_MAP_SIZE, sizeIfLast);
  });
}

/** Rows per transaction when the patient map is persisted: bounds how long one holds the database. */
const MAP_CHUNK = 4096;

/**
 * Persists the patient map at log size `size`: upserts `rows` (the patients changed since the
 * last persisted size, with their values at `size`) in transactions of a few thousand rows, then
 * raises the persisted size to `size` with the last of them. A row never moves back, nor the size.
 * Interrupted, it leaves every row a consistent (last, count) pair and the size where it was.
 * @param store - the store
 * @param rows - the changed patients' values at `size`
 * @param size - the log size the values describe
 * @param writeChunk - writes one transaction (default: on the store's connection)
 */
export async function writePatientMap(
  store: Store,
  rows: readonly AuditPatientMapRow[],
  size: number,
  writeChunk: PatientMapChunkWriter = (chunk, sizeIfLast) => writePatientMapChunk(store, chunk, sizeIfLast),
): Promise<void> {
  // In key order, so each transaction updates a contiguous run of the table's pages and every
  // page is written once per persist (in the map's order, by key hash, each chunk of 4,096 rows
  // dirtied most of the table's pages: ~10x the write time at 50k patients).
  const sorted = rows.slice().sort((a, b) => (a.patient < b.patient ? -1 : a.patient > b.patient ? 1 : 0));
  for (let at = 0; at === 0 || at < sorted.length; at += MAP_CHUNK) {
    const last = at + MAP_CHUNK >= sorted.length;
    await writeChunk(sorted.slice(at, at + MAP_CHUNK), last ? size : undefined);
    // Let appends and requests run between chunks.
    if (!last) await new Promise((r) => setImmediate(r));
  }
}
