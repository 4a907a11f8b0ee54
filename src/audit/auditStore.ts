/**
 * The audit log's tables: batched inserts of entries and complete subtree hashes, and the
 * O(log n)-key reads that roots and proofs need. Server side only (Kysely, Buffers).
 */
import type Database from "better-sqlite3";
import { CompiledQuery, type Kysely, type Transaction } from "kysely";
import type { Dialect } from "../store/database.js";
import type { AuditEntryTable, Schema } from "../store/schema.js";
import { BaseError } from "../errors/BaseError.js";
import type { NodeKey, NodeSource } from "./subtrees.js";

/** A complete subtree hash ready to be stored. */
export interface NodeRow {
  level: number;
  index: number;
  hash: Uint8Array;
}

/**
 * Where the subtree (`level`, `index`) is stored: its last leaf times 64, plus its level. Nodes
 * are completed in this order as leaves are appended, so appends write at the table's right end,
 * and the nodes a range of leaves completed are one key range. Exact below 2^47 leaves.
 */
export function nodePosition(level: number, index: number): number {
  return ((index + 1) * 2 ** level - 1) * 64 + level;
}

/** The subtree stored at `pos` (inverse of {@link nodePosition}). */
export function nodeAt(pos: number): { level: number; index: number } {
  const level = pos % 64;
  const lastLeaf = (pos - level) / 64;
  return { level, index: (lastLeaf + 1) / 2 ** level - 1 };
}

/** Rows per INSERT, far below SQLite's 32766 and PostgreSQL's 65535 bound parameters. */
const ENTRY_CHUNK = 1000;
const NODE_CHUNK = 3000;

const toBuffer = (b: Uint8Array): Buffer =>
  Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Inserts one batch of entries and the subtree hashes they complete, inside the caller's
 * transaction.
 * @param trx - an open transaction
 * @param entries - entry rows
 * @param nodes - the level >= 0 subtrees completed by these entries
 */
export async function insertBatch(
  trx: Transaction<Schema>,
  dialect: Dialect,
  entries: readonly AuditEntryTable[],
  nodes: readonly NodeRow[],
): Promise<void> {
  for (let i = 0; i < entries.length; i += ENTRY_CHUNK) {
    const chunk = entries.slice(i, i + ENTRY_CHUNK);
    const params: unknown[] = [];
    for (const e of chunk) params.push(e.idx, e.entry, toBuffer(e.leaf_hash), e.patient, e.created_at);
    await trx.executeQuery(CompiledQuery.raw(insertSql(dialect, ENTRY_INSERT, chunk.length), params));
  }
  for (let i = 0; i < nodes.length; i += NODE_CHUNK) {
    const chunk = nodes.slice(i, i + NODE_CHUNK);
    const params: unknown[] = [];
    for (const n of chunk) params.push(nodePosition(n.level, n.index), toBuffer(n.hash));
    await trx.executeQuery(CompiledQuery.raw(insertSql(dialect, NODE_INSERT, chunk.length), params));
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
 * synchronously (one multi-row INSERT per 64 rows of each table, whatever the batch size), so a
 * batch pays neither statement preparation nor an await per statement. The caller must hold the
 * store's Kysely connection (`db.connection().execute`) so that no Kysely transaction is open on
 * the handle. Committed when it returns; rolled back when it throws.
 * @param handle - the store's better-sqlite3 handle
 * @param entries - entry rows
 * @param nodes - the subtrees completed by these entries
 */
export function insertBatchSqlite(
  handle: Database.Database,
  entries: readonly AuditEntryTable[],
  nodes: readonly NodeRow[],
): void {
  if (handle.inTransaction) throw new BaseError("internal", "audit append inside an open transaction");
  const s = sqliteStatements(handle);
  const entryValues: unknown[] = [];
  for (const e of entries) entryValues.push(e.idx, e.entry, toBuffer(e.leaf_hash), e.patient, e.created_at);
  const nodeValues: unknown[] = [];
  for (const n of nodes) nodeValues.push(nodePosition(n.level, n.index), toBuffer(n.hash));
  s.begin.run();
  try {
    insertRows(handle, s, ENTRY_INSERT, entryValues);
    insertRows(handle, s, NODE_INSERT, nodeValues);
    s.commit.run();
  } catch (error) {
    if (handle.inTransaction) s.rollback.run();
    throw error;
  }
}

const ENTRY_INSERT = {
  head: "insert into audit_entries (idx, entry, leaf_hash, patient, created_at) values ",
  columns: 5,
};
const NODE_INSERT = { head: "insert into audit_tree (pos, hash) values ", columns: 2 };
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

/**
 * The number of leaves the stored tree has: one past the last leaf of the highest stored subtree.
 * The subtree table, not the entries table, is authoritative, so a deleted tail entry shows up as
 * a gap.
 */
export async function storedSize(db: Kysely<Schema>): Promise<number> {
  const row = await db
    .selectFrom("audit_tree")
    .select("pos")
    .orderBy("pos", "desc")
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? 0 : Math.floor(Number(row.pos) / 64) + 1;
}

/**
 * A `NodeSource` over the `audit_tree` table: one query per call whatever the number of keys.
 * @param db - the store's Kysely instance
 * @returns the source
 */
export function dbNodeSource(db: Kysely<Schema>): NodeSource {
  return {
    async nodes(keys: readonly NodeKey[]): Promise<Uint8Array[]> {
      if (keys.length === 0) return [];
      const positions = keys.map((k) => nodePosition(k.level, k.index));
      const rows = await db
        .selectFrom("audit_tree")
        .select(["pos", "hash"])
        .where("pos", "in", positions)
        .execute();
      const found = new Map(rows.map((r) => [Number(r.pos), r.hash]));
      return keys.map((k, i) => {
        const hash = found.get(positions[i] as number);
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
