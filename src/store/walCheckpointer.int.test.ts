import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "./database.js";
import {
  BACKSTOP_CHECKPOINT_PAGES,
  FOREGROUND_CHECKPOINT_PAGES,
  startWalCheckpointer,
} from "./walCheckpointer.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "carechain-wal-"));
  dirs.push(dir);
  return join(dir, "node.db");
}

async function until(what: string, test: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const threshold = (h: Database.Database) => h.pragma("wal_autocheckpoint", { simple: true }) as number;

describe("WAL checkpoints in a worker thread", () => {
  it("checkpoints what the node commits, off the main connection, and removes the WAL on close", async () => {
    const path = tempPath();
    const store = await openStore({ sqlitePath: path, backgroundCheckpoints: true });
    const handle = store.sqlite!;
    const checkpointer = store.walCheckpointer!;
    await until("the worker", () => checkpointer.running);
    expect(threshold(handle)).toBe(BACKSTOP_CHECKPOINT_PAGES);

    handle.exec("create table t (id integer primary key, v blob)");
    const insert = handle.prepare("insert into t (v) values (?)");
    for (let i = 0; i < 500; i++) insert.run(Buffer.alloc(2000, i % 256));
    // ~1 MB of WAL, far below the main connection's raised threshold: only the worker can have
    // copied it into the database file (in WAL mode the file grows only by checkpoints).
    expect(statSync(path).size).toBeLessThan(500 * 2000);
    await until("the worker's checkpoint", () => statSync(path).size > 500 * 2000);
    await until("its report", () => checkpointer.checkpoints > 0);

    await store.close();
    expect(checkpointer.running).toBe(false);
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = new Database(path, { readonly: true });
    expect(reopened.prepare("select count(*) as n from t").get()).toEqual({ n: 500 });
    reopened.close();
  });

  it("hands checkpoints back to SQLite when the worker cannot run, or stops", async () => {
    const path = tempPath();
    const handle = new Database(path);
    handle.pragma("journal_mode = WAL");
    // A file the worker cannot open: it fails, and the main connection checkpoints as usual.
    const broken = startWalCheckpointer(handle, join(path, "..", "missing", "x.db"));
    await until("the worker's failure", () => threshold(handle) === FOREGROUND_CHECKPOINT_PAGES);
    await broken.stop();
    expect(broken.running).toBe(false);

    const working = startWalCheckpointer(handle, path, 20);
    await until("the worker", () => working.running);
    expect(threshold(handle)).toBe(BACKSTOP_CHECKPOINT_PAGES);
    await working.stop();
    expect(threshold(handle)).toBe(FOREGROUND_CHECKPOINT_PAGES);
    handle.close();
  });

  it("is not started for an in-memory database or unless asked", async () => {
    const memory = await openStore({ sqlitePath: ":memory:", backgroundCheckpoints: true });
    expect(memory.walCheckpointer).toBeUndefined();
    await memory.close();
    const plain = await openStore({ sqlitePath: tempPath() });
    expect(plain.walCheckpointer).toBeUndefined();
    expect(threshold(plain.sqlite!)).toBe(FOREGROUND_CHECKPOINT_PAGES);
    await plain.close();
  });
});
