import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, type TestStore } from "../../test/support/stores.js";
import { CurrentRowCache, RECHECK_MS } from "./currentRowCache.js";

// SQLite only: the cache sits on the synchronous better-sqlite3 handle, which PostgreSQL has not.
describe("CurrentRowCache (sqlite)", () => {
  let t: TestStore;
  let handle: Database.Database;

  const put = (db: Database.Database, id: string, version: number, blob: string) => {
    db.prepare(
      `insert into resource_versions (type, id, version_id, patient_id, categories, author_org, author,
        last_updated, deleted, content_hash, blob) values ('Observation', ?, ?, 'p1', 1, 'org', 'a', 1, 0, 'h', ?)`,
    ).run(id, version, Buffer.from(blob));
    db.prepare(
      `insert into resources (type, id, version_id, patient_id, categories, author_org, last_updated, deleted, sort_date)
        values ('Observation', ?, ?, 'p1', 1, 'org', 1, 0, null)
        on conflict (type, id) do update set version_id = excluded.version_id`,
    ).run(id, version);
  };
  const blobOf = (row: { blob: Uint8Array | null } | null | undefined) =>
    row?.blob ? Buffer.from(row.blob).toString() : row;

  beforeEach(async () => {
    t = await freshStore("sqlite");
    handle = t.store.sqlite!;
  });
  afterEach(async () => {
    await t.dispose();
  });

  it("reads the current row, and answers from memory until this process invalidates it", () => {
    const cache = new CurrentRowCache(handle);
    put(handle, "a", 1, "v1");
    expect(blobOf(cache.get("Observation", "a"))).toBe("v1");
    // This connection's own write does not change data_version: the cached row stays until invalidated.
    put(handle, "a", 2, "v2");
    expect(blobOf(cache.get("Observation", "a"))).toBe("v1");
    cache.invalidate("Observation", "a");
    expect(blobOf(cache.get("Observation", "a"))).toBe("v2");
    expect(cache.get("Observation", "missing")).toBeUndefined();
  });

  it("sees another connection's commit within RECHECK_MS (PRAGMA data_version)", async () => {
    const cache = new CurrentRowCache(handle);
    put(handle, "a", 1, "v1");
    expect(blobOf(cache.get("Observation", "a"))).toBe("v1");
    const other = new Database(t.location.sqlitePath!);
    try {
      put(other, "a", 2, "from-another-process");
    } finally {
      other.close();
    }
    await new Promise((r) => setTimeout(r, RECHECK_MS + 1));
    expect(blobOf(cache.get("Observation", "a"))).toBe("from-another-process");
  });

  it("never reads uncommitted rows: inside an open transaction an uncached row is left to the caller", () => {
    const cache = new CurrentRowCache(handle);
    put(handle, "a", 1, "v1");
    expect(blobOf(cache.get("Observation", "a"))).toBe("v1");
    handle.exec("begin");
    try {
      put(handle, "b", 1, "uncommitted");
      expect(cache.get("Observation", "b")).toBeNull();
      // a cached row is the committed state, still served
      expect(blobOf(cache.get("Observation", "a"))).toBe("v1");
    } finally {
      handle.exec("rollback");
    }
    expect(cache.get("Observation", "b")).toBeUndefined();
  });

  it("keeps at most `capacity` rows, and with capacity 0 always reads the table", () => {
    const cache = new CurrentRowCache(handle, 2);
    for (const id of ["a", "b", "c"]) put(handle, id, 1, `${id}1`);
    for (const id of ["a", "b", "c"]) cache.get("Observation", id);
    for (const id of ["a", "b", "c"]) put(handle, id, 2, `${id}2`);
    // "a" was evicted, so it is read again; "c" and "b" are still the cached first versions
    expect(["c", "b", "a"].map((id) => blobOf(cache.get("Observation", id)))).toEqual(["c1", "b1", "a2"]);

    const uncached = new CurrentRowCache(handle, 0);
    expect(blobOf(uncached.get("Observation", "c"))).toBe("c2");
    cache.clear();
    expect(blobOf(cache.get("Observation", "c"))).toBe("c2");
  });
});
