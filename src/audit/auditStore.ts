/**
 * The audit log's table: batched inserts of entries, each with the complete subtree hashes its
 * append finished, and the O(log n)-key reads that roots and proofs need. Server side only (Kysely, Buffers).
 */
import type Database from "better-sqlite3";
import { CompiledQuery, type Kysely, type Transaction } from "kysely";
import type { Dialect } from "../store/database.js";
import type { AuditEntryTable, Schema } from "../store/schema.js";
import { BaseError } from "../errors/BaseError.js";
import type { NodeKey, NodeSource } from "./subtrees.js";

/**
 * The leaf whose append completes the subtree (`level`, `index`): its last leaf. That entry's row
 * stores the subtree's hash, so appends write one row per entry at the right end of one b-tree.
 */
export function lastLeafOf(level: number, index: number): number {
  return (index + 1) * 2 ** level - 1;
}

/** Bytes per stored hash. */
const HASH = 32;

/**
 * The hash of the subtree at `level` whose last leaf is `row`: the leaf hash at level 0, else
 * the `level`-th hash of the row's `subtrees` (levels 1, 2, ... in order); undefined when the row
 * does not hold that level.
 */
export function storedSubtree(
  row: { leaf_hash: Uint8Array; subtrees: Uint8Array | null },
  level: number,
): Uint8Array | undefined {
  if (level === 0) return row.leaf_hash;
  const end = level * HASH;
  if (row.subtrees === null || row.subtrees.length < end) return undefined;
  return row.subtrees.subarray(end - HASH, end);
}

/** Rows per INSERT, far below SQLite's 32766 and PostgreSQL's 65535 bound parameters. */
export const ENTRY_CHUNK = 1000;

const toBuffer = (b: Uint8Array): Buffer =>
  Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The values of one entry row, in {@link ENTRY_INSERT}'s column order. */
function pushEntry(params: unknown[], e: AuditEntryTable): void {
  const subtrees = e.subtrees === null ? null : toBuffer(e.subtrees);
  params.push(e.idx, e.entry, toBuffer(e.leaf_hash), e.patient, e.created_at, subtrees);
}

/**
 * Inserts one batch of entries, with the subtree hashes each completes, inside the caller's
 * transaction (or, for at most {@link ENTRY_CHUNK} rows, one statement is atomic on its own).
 * @param trx - an open transaction, or the database for a batch of one statement
 * @param entries - entry rows
 */
export async function insertBatch(
  trx: Kysely<Schema> | Transaction<Schema>,
  dialect: Dialect,
  entries: readonly AuditEntryTable[],
): Promise<void> {
  for (let i = 0; i < entries.length; i += ENTRY_CHUNK) {
    const chunk = entries.slice(i, i + ENTRY_CHUNK);
    const params: unknown[] = [];
    for (const e of chunk) pushEntry(params, e);
    await trx.executeQuery(CompiledQuery.raw(insertSql(dialect, ENTRY_INSERT, chunk.length), params));
  }
}

/** Most rows per multi-row statement on the synchronous SQLite path. */
const SQLITE_ROWS = 64;

interface SqliteStatements {
  /** Multi-row INSERTs by table and row count (1..SQLITE_ROWS), prepared on first use. */
  inserts: Map<string, Database.Statement>;
  begin: Database.Statement;
  commit: Database.Statement;
  rollback: Database.Statement;
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
    };
    statementCache.set(handle, s);
  }
  return s;
}

/** Inserts `rows` rows whose flattened values are `values`, at most SQLITE_ROWS per statement. */
function insertRows(
  handle: Database.Database,
  s: SqliteStatements,
  table: { head: string; columns: number },
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

/**
 * The SQLite fast path of {@link insertBatch}: one transaction of cached prepared statements run
 * synchronously (one multi-row INSERT per 64 rows, whatever the batch size; a batch of up to 64
 * rows is a single statement, committed on its own), so a batch pays neither statement
 * preparation nor an await per statement. The caller must hold the
 * store's Kysely connection (`db.connection().execute`) so that no Kysely transaction is open on
 * the handle. Committed when it returns; rolled back when it throws.
 * @param handle - the store's better-sqlite3 handle
 * @param entries - entry rows
 */
export function insertBatchSqlite(handle: Database.Database, entries: readonly AuditEntryTable[]): void {
  if (handle.inTransaction) throw new BaseError("internal", "audit append inside an open transaction");
  const s = sqliteStatements(handle);
  const values: unknown[] = [];
  for (const e of entries) pushEntry(values, e);
  // One statement is a transaction of its own (autocommit): atomic, and two statements cheaper.
  if (entries.length <= SQLITE_ROWS) return insertRows(handle, s, ENTRY_INSERT, values);
  s.begin.run();
  try {
    insertRows(handle, s, ENTRY_INSERT, values);
    s.commit.run();
  } catch (error) {
    if (handle.inTransaction) s.rollback.run();
    throw error;
  }
}

const ENTRY_INSERT = {
  head: "insert into audit_entries (idx, entry, leaf_hash, patient, created_at, subtrees) values ",
  columns: 6,
};
const sqlCache = new Map<string, string>();

/**
 * A multi-row INSERT with placeholders, built once per shape: appends are the hot path, and
 * skipping the query builder's per-row work doubles their throughput.
 */
function insertSql(dialect: Dialect, table: { head: string; columns: number }, rows: number): string {
  const key = `${dialect}:${table.head}:${rows}`;
  let text = sqlCache.get(key);
  if (text === undefined) {
    const tuples: string[] = [];
    for (let r = 0, p = 1; r < rows; r++) {
      const marks: string[] = [];
      for (let c = 0; c < table.columns; c++, p++) marks.push(dialect === "postgres" ? `$${p}` : "?");
      tuples.push(`(${marks.join(", ")})`);
    }
    text = table.head + tuples.join(", ");
    if (sqlCache.size > 512) sqlCache.clear();
    sqlCache.set(key, text);
  }
  return text;
}

/** The number of entries stored: one past the highest index. */
export async function storedSize(db: Kysely<Schema>): Promise<number> {
  const row = await db
    .selectFrom("audit_entries")
    .select("idx")
    .orderBy("idx", "desc")
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? 0 : Number(row.idx) + 1;
}

/**
 * A `NodeSource` over the entry rows that hold the subtrees: one query per call whatever the
 * number of keys.
 * @param db - the store's Kysely instance
 * @returns the source
 */
export function dbNodeSource(db: Kysely<Schema>): NodeSource {
  return {
    async nodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
      if (keys.length === 0) return [];
      const leaves = keys.map((k) => lastLeafOf(k.level, k.index));
      const rows = await db
        .selectFrom("audit_entries")
        .select(["idx", "leaf_hash", "subtrees"])
        .where("idx", "in", [...new Set(leaves)])
        .execute();
      const found = new Map(rows.map((r) => [Number(r.idx), r]));
      return keys.map((k, i) => {
        const row = found.get(leaves[i] as number);
        const hash = row === undefined ? undefined : storedSubtree(row, k.level);
        if (hash === undefined) {
          throw new BaseError("internal", "audit subtree hash missing", {
            details: `level ${k.level} index ${k.index}`,
          });
        }
        return hash;
      });
    },
  };
}

/** True when `error` is a primary-key/unique violation on either engine (a concurrent writer). */
export function isUniqueViolation(error: unknown, dialect: Dialect): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== "object") return false;
  if (dialect === "postgres") return e.code === "23505";
  return typeof e.code === "string" && e.code.startsWith("SQLITE_CONSTRAINT");
}
