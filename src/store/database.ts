import Database from "better-sqlite3";
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from "kysely";
import pg from "pg";
import { BaseError } from "../errors/BaseError.js";
import type { Schema } from "./schema.js";
import { migrateToLatest } from "./migrate.js";
import {
  FOREGROUND_CHECKPOINT_PAGES,
  startWalCheckpointer,
  type WalCheckpointer,
} from "./walCheckpointer.js";

export type Dialect = "sqlite" | "postgres";

/** A migrated database handle: the Kysely instance and which engine is underneath. */
export interface Store {
  readonly db: Kysely<Schema>;
  readonly dialect: Dialect;
  /** Human-readable target without credentials, safe for logs and /health. */
  readonly description: string;
  /**
   * The SQLite handle under `db`, for hot paths that run prepared statements synchronously (the
   * audit append). Use it only while holding Kysely's connection (`db.connection().execute`), so
   * it never interleaves with a Kysely transaction. Absent on PostgreSQL.
   */
  readonly sqlite?: Database.Database;
  /** The worker that checkpoints the SQLite WAL, when `backgroundCheckpoints` asked for it. */
  readonly walCheckpointer?: WalCheckpointer;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** PostgreSQL connection string; when absent, SQLite at `sqlitePath`. */
  databaseUrl?: string | undefined;
  /** SQLite file path, or `:memory:`. */
  sqlitePath?: string | undefined;
  /** Run migrations (default true). */
  migrate?: boolean;
  /**
   * SQLite file only: checkpoint the WAL from a worker thread instead of inside commits (see
   * `walCheckpointer.ts`). For long-running processes (the node); short CLI commands need not.
   */
  backgroundCheckpoints?: boolean;
}

// int8 and numeric as JS numbers: counters and block numbers stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

/** Removes a password from a connection string so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}

/**
 * Opens the node's database: SQLite (WAL) by default, PostgreSQL when a URL is given, and
 * migrates it. Fails with a `BaseError` naming the target when it cannot be reached.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const store = options.databaseUrl
    ? await openPostgres(options.databaseUrl)
    : openSqlite(options.sqlitePath ?? ":memory:", options.backgroundCheckpoints === true);
  if (options.migrate !== false) {
    try {
      await migrateToLatest(store.db as unknown as Kysely<unknown>, store.dialect);
    } catch (cause) {
      await store.close();
      throw new BaseError("unavailable", `database migration failed on ${store.description}`, { cause });
    }
  }
  return store;
}

function openSqlite(path: string, backgroundCheckpoints: boolean): Store {
  let handle: Database.Database;
  try {
    handle = new Database(path);
  } catch (cause) {
    throw new BaseError("unavailable", `cannot open SQLite database at ${path}`, { cause });
  }
  handle.pragma("journal_mode = WAL");
  handle.pragma("synchronous = NORMAL");
  handle.pragma("busy_timeout = 5000");
  handle.pragma("foreign_keys = ON");
  // Performance only. A 64 MiB page cache keeps the index pages that appends touch in memory;
  // checkpointing every 4000 pages (16 MiB of WAL, default 1000) means fewer, larger copies and
  // fsyncs on the commit path, and a node moves them off it (`backgroundCheckpoints`). Durability
  // is unchanged: WAL + synchronous=NORMAL survives a process crash (a power loss may lose the
  // last commits, as before).
  handle.pragma("cache_size = -65536");
  handle.pragma(`wal_autocheckpoint = ${FOREGROUND_CHECKPOINT_PAGES}`);
  const db = new Kysely<Schema>({
    dialect: new ImmediateSqliteDialect({ database: cachingPrepare(handle) }),
  });
  const checkpointer =
    backgroundCheckpoints && !handle.memory ? startWalCheckpointer(handle, path) : undefined;
  return {
    db,
    dialect: "sqlite",
    sqlite: handle,
    description: `sqlite:${path}`,
    ...(checkpointer ? { walCheckpointer: checkpointer } : {}),
    // The worker's connection closes last, so it is the one that checkpoints and removes the WAL.
    close: async () => {
      await db.destroy();
      await checkpointer?.stop();
    },
  };
}

/**
 * Kysely's SQLite driver with transactions that begin IMMEDIATE instead of deferred: they take the
 * write lock up front (waiting on busy_timeout), so one that reads and then writes can never fail
 * with SQLITE_BUSY_SNAPSHOT when another connection (an operator's CLI on the same data directory)
 * committed in between.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/** Most prepared statements kept per SQLite connection. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * The handle as Kysely's SQLite driver sees it, with `prepare` remembering statements by SQL
 * text (Kysely prepares on every query; compiling the SQL is a large part of a point lookup).
 * Safe because Kysely runs one query at a time on its single connection. Performance only.
 */
function cachingPrepare(handle: Database.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      handle.close();
    },
    prepare(sqlText: string): SqliteStatement {
      let statement = cache.get(sqlText);
      if (statement === undefined) {
        statement = handle.prepare(sqlText);
        if (cache.size >= STATEMENT_CACHE_SIZE) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
        cache.set(sqlText, statement);
      }
      return statement;
    },
  };
}

async function openPostgres(url: string): Promise<Store> {
  const description = redactUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  // An idle client losing its server must not crash the process.
  pool.on("error", () => undefined);
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (cause) {
    await db.destroy();
    throw new BaseError("unavailable", `cannot reach PostgreSQL at ${description}`, { cause });
  }
  return { db, dialect: "postgres", description, close: () => db.destroy() };
}
