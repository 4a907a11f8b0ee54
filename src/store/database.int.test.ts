import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { freshStore, type TestStore } from "../../test/support/stores.js";

// SQLite only: PostgreSQL has no database-wide write lock.
describe("openStore on sqlite", () => {
  let t: TestStore;
  afterEach(async () => {
    await t.dispose();
  });

  it("begins Kysely transactions IMMEDIATE: the write lock is held before the first write", async () => {
    t = await freshStore("sqlite");
    const other = new Database(t.location.sqlitePath!);
    other.pragma("busy_timeout = 0");
    const write = () => other.prepare("insert into meta (key, value) values (?, 'x')").run(`k${Date.now()}`);
    try {
      await t.store.db.transaction().execute(async (trx) => {
        // only a read so far: a deferred BEGIN would not hold the write lock yet
        await trx.selectFrom("meta").select("key").execute();
        expect(write).toThrow(/locked|busy/i);
      });
      expect(write).not.toThrow();
    } finally {
      other.close();
    }
  });
});
