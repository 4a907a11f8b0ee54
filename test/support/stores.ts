import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Kysely } from "kysely";
import { openStore, type Store } from "../../src/store/database.js";
import { migrations } from "../../src/store/migrations/index.js";

/**
 * The storage engines every storage test runs on. SQLite always; PostgreSQL when
 * `TEST_DATABASE_URL` points at a server (`.ci/run` starts one and sets it). Under CI a missing
 * PostgreSQL is an error, not a silent skip.
 */
export const engines: Array<"sqlite" | "postgres"> = process.env.TEST_DATABASE_URL
  ? ["sqlite", "postgres"]
  : ["sqlite"];

if (process.env.CI === "true" && !process.env.TEST_DATABASE_URL) {
  throw new Error("CI=true but TEST_DATABASE_URL is not set: storage tests must run on PostgreSQL too");
}

export interface TestStore {
  store: Store;
  /** Connection string (postgres) or file path (sqlite), to reopen the same database. */
  location: { databaseUrl?: string; sqlitePath?: string };
  /** Closes the store and deletes the database. */
  dispose(): Promise<void>;
}

/** Creates a fresh, migrated, empty database on the given engine. */
export async function freshStore(engine: "sqlite" | "postgres"): Promise<TestStore> {
  if (engine === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "carechain-db-"));
    const sqlitePath = join(dir, "node.db");
    const store = await openStore({ sqlitePath });
    return {
      store,
      location: { sqlitePath },
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const database = await freshDatabase();
  const store = await openStore({ databaseUrl: database.url });
  return {
    store,
    location: { databaseUrl: database.url },
    dispose: async () => {
      await store.close();
      await database.drop();
    },
  };
}

/**
 * A fresh database migrated up to, not including, `migration`, for migration tests; `rest()` runs
 * that migration and every later one.
 */
export async function storeBefore(
  engine: "sqlite" | "postgres",
  migration: string,
): Promise<{ store: Store; rest(): Promise<void>; dispose(): Promise<void> }> {
  let store: Store;
  let dispose: () => Promise<void>;
  if (engine === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "carechain-db-"));
    store = await openStore({ sqlitePath: join(dir, "node.db"), migrate: false });
    dispose = async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const database = await freshDatabase();
    store = await openStore({ databaseUrl: database.url, migrate: false });
    dispose = async () => {
      await store.close();
      await database.drop();
    };
  }
  const names = Object.keys(migrations);
  const at = names.indexOf(migration);
  if (at < 1) throw new Error(`no migration ${migration} after the first`);
  const db = store.db as unknown as Kysely<unknown>;
  const run = async (list: string[]) => {
    for (const name of list) await migrations[name]!.up(db, store.dialect);
  };
  await run(names.slice(0, at));
  return { store, rest: () => run(names.slice(at)), dispose };
}

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty PostgreSQL database on the TEST_DATABASE_URL server (for a node to migrate itself). */
export async function freshDatabase(): Promise<FreshDatabase> {
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set");
  const name = `carechain_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
