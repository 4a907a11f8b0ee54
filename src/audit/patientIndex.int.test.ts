import { afterEach, describe, expect, it } from "vitest";
import { sql, type Kysely } from "kysely";
import { openStore, type Store } from "../store/database.js";
import { AUDIT_PATIENT_WATERMARK } from "../store/migrations/007_audit_patient_index.js";
import { AUDIT_PATIENT_RUN } from "../store/migrations/010_audit_patient_runs.js";
import { engines, freshStore, storeBefore, type TestStore } from "../../test/support/stores.js";
import { AuditLog } from "./auditLog.js";
import type { AuditEntry } from "./auditEntry.js";
import { indexedUpTo } from "./patientIndex.js";

const PATIENTS = [
  "0x00000000000000000000000000000000000000Aa",
  "0x00000000000000000000000000000000000000bB",
  "0x00000000000000000000000000000000000000cc",
];

function entry(i: number): AuditEntry {
  const e: AuditEntry = {
    v: 1,
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    requestId: `req-${i}`,
    actor: { account: "0x0000000000000000000000000000000000000001" },
    action: "read",
    decision: "permit",
  };
  // Every 7th entry is about no patient.
  if (i % 7 !== 6) e.patient = PATIENTS[i % 3]!;
  return e;
}
const expected = (patient: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => i).filter((i) => i % 7 !== 6 && i % 3 === patient);

async function indexes(log: AuditLog, patient: number, afterIndex?: number, limit = 1000): Promise<number[]> {
  const rows = await log.entries({
    patient: PATIENTS[patient]!.toUpperCase().replace("0X", "0x"),
    limit,
    ...(afterIndex === undefined ? {} : { afterIndex }),
  });
  return rows.map((r) => r.index);
}

/** Every page of a patient's entries, 4 at a time, concatenated. */
async function paged(log: AuditLog, patient: number): Promise<number[]> {
  const out: number[] = [];
  for (let after = -1; ;) {
    const page = await indexes(log, patient, after < 0 ? undefined : after, 4);
    out.push(...page);
    if (page.length < 4) return out;
    after = page[page.length - 1]!;
  }
}

describe.each(engines)("deferred patient index on %s", (engine) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  it("lists a patient's entries completely right after append, before and after indexing", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store, { patientIndexDelayMs: 60_000 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.enqueue(entry(i))));
    expect(await indexedUpTo(t.store.db)).toBe(0);
    expect(await indexes(log, 0)).toEqual(expected(0, 40));
    await log.indexPatients();
    expect(await indexedUpTo(t.store.db)).toBe(40);
    const stored = await t.store.db.selectFrom("audit_patient_runs").selectAll().execute();
    expect(stored).toHaveLength([0, 1, 2].reduce((n, p) => n + expected(p, 40).length, 0));
    expect(stored.filter((r) => r.patient === PATIENTS[1]!.toLowerCase()).map((r) => Number(r.idx))).toEqual(
      expected(1, 40),
    );
    // Part indexed, part tail: pages cross the watermark without gaps or duplicates.
    await log.append(Array.from({ length: 25 }, (_, k) => entry(40 + k)));
    expect(await indexedUpTo(t.store.db)).toBe(40);
    for (const p of [0, 1, 2]) {
      expect(await indexes(log, p)).toEqual(expected(p, 65));
      expect(await paged(log, p)).toEqual(expected(p, 65));
    }
    expect(await indexes(log, 2, 30, 3)).toEqual(
      expected(2, 65)
        .filter((i) => i > 30)
        .slice(0, 3),
    );
    await log.indexPatients();
    expect(await indexedUpTo(t.store.db)).toBe(65);
    expect(await paged(log, 0)).toEqual(expected(0, 65));
    expect((await log.verifyAll([])).ok).toBe(true);
  });

  it("catches up on its own after appends and after a restart", async () => {
    t = await freshStore(engine);
    const first = await AuditLog.open(t.store, { patientIndexDelayMs: 60_000 });
    await first.append(Array.from({ length: 30 }, (_, i) => entry(i)));
    await first.stopBackground();
    await t.store.close();

    const reopened: Store = await openStore(t.location);
    t = { ...t, store: reopened };
    const log = await AuditLog.open(reopened, { patientIndexDelayMs: 10 });
    expect(await indexes(log, 1)).toEqual(expected(1, 30));
    const deadline = Date.now() + 5000;
    while ((await indexedUpTo(reopened.db)) < 30 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await indexedUpTo(reopened.db)).toBe(30);
    await log.append([entry(30), entry(31), entry(32)]);
    expect(await indexes(log, 0)).toEqual(expected(0, 33));
    while ((await indexedUpTo(reopened.db)) < 33 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await indexedUpTo(reopened.db)).toBe(33);
    expect(await indexes(log, 0)).toEqual(expected(0, 33));
  });

  it("indexes the same range from two logs on one database without duplicates", async () => {
    t = await freshStore(engine);
    const a = await AuditLog.open(t.store, { patientIndexDelayMs: 60_000 });
    const b = await AuditLog.open(t.store, { patientIndexDelayMs: 60_000 });
    await a.append(Array.from({ length: 20 }, (_, i) => entry(i)));
    await b.append([entry(20), entry(21)]);
    await Promise.all([a.indexPatients(), b.indexPatients()]);
    expect(await indexedUpTo(t.store.db)).toBe(22);
    expect(await indexes(a, 0)).toEqual(expected(0, 22));
    expect(await indexes(b, 2)).toEqual(expected(2, 22));
  });
});

describe.each(engines)("patient index runs on %s", (engine) => {
  it("finds a patient's entries across runs, in pages that cross run ends and the watermark", async () => {
    const t = await freshStore(engine);
    try {
      const log = await AuditLog.open(t.store, { patientIndexDelayMs: 60_000 });
      const n = 2 * AUDIT_PATIENT_RUN + 3000;
      for (let i = 0; i < n; i += 4096) {
        await log.append(Array.from({ length: Math.min(4096, n - i) }, (_, k) => entry(i + k)));
      }
      await log.indexPatients();
      expect(await indexedUpTo(t.store.db)).toBe(n);
      await log.append(Array.from({ length: 50 }, (_, k) => entry(n + k)));
      const all = expected(1, n + 50);
      const listed: number[] = [];
      for (let after = -1; ;) {
        const page = await indexes(log, 1, after < 0 ? undefined : after, 1000);
        listed.push(...page);
        if (page.length < 1000) break;
        after = page[page.length - 1]!;
      }
      expect(listed).toEqual(all);
      // A page that starts just before a run's end continues into the next run.
      const edge = AUDIT_PATIENT_RUN - 10;
      expect(await indexes(log, 1, edge, 8)).toEqual(all.filter((i) => i > edge).slice(0, 8));
      const runs = await t.store.db
        .selectFrom("audit_patient_runs")
        .select(["run", "idx"])
        .where("idx", "in", [AUDIT_PATIENT_RUN - 1, AUDIT_PATIENT_RUN + 1, 2 * AUDIT_PATIENT_RUN + 1])
        .orderBy("idx")
        .execute();
      expect(runs.map((r) => [Number(r.run), Number(r.idx)])).toEqual([
        [0, AUDIT_PATIENT_RUN - 1],
        [1, AUDIT_PATIENT_RUN + 1],
        [2, 2 * AUDIT_PATIENT_RUN + 1],
      ]);
      await log.stopBackground();
    } finally {
      await t.dispose();
    }
  });
});

describe.each(engines)("migration 010 on %s", (engine) => {
  it("copies (patient, idx) pairs into their runs and drops the old table", async () => {
    const { store, rest, dispose } = await storeBefore(engine, "010_audit_patient_runs");
    try {
      const db = store.db as unknown as Kysely<unknown>;
      const pairs = [
        ["0xaa", 5],
        ["0xbb", AUDIT_PATIENT_RUN - 1],
        ["0xaa", AUDIT_PATIENT_RUN],
        ["0xaa", 3 * AUDIT_PATIENT_RUN + 7],
      ] as const;
      for (const [patient, idx] of pairs) {
        await sql`insert into audit_patient_entries (patient, idx) values (${patient}, ${idx})`.execute(db);
      }
      await rest();
      const rows = await store.db
        .selectFrom("audit_patient_runs")
        .select(["run", "patient", "idx"])
        .orderBy("idx")
        .execute();
      expect(rows.map((r) => [Number(r.run), r.patient, Number(r.idx)])).toEqual([
        [0, "0xaa", 5],
        [0, "0xbb", AUDIT_PATIENT_RUN - 1],
        [1, "0xaa", AUDIT_PATIENT_RUN],
        [3, "0xaa", 3 * AUDIT_PATIENT_RUN + 7],
      ]);
      const old =
        store.dialect === "sqlite"
          ? sql`select name from sqlite_master where type = 'table' and name = 'audit_patient_entries'`
          : sql`select tablename from pg_tables where tablename = 'audit_patient_entries'`;
      expect((await old.execute(db)).rows).toEqual([]);
    } finally {
      await dispose();
    }
  });
});

describe.each(engines)("migration 007 on %s", (engine) => {
  it("backfills the patient index from existing entries and drops the old index", async () => {
    const { store, rest, dispose } = await storeBefore(engine, "007_audit_patient_index");
    try {
      const rows = [0, 1, 2, 3, 4].map((i) => ({
        idx: i,
        entry: "{}",
        leaf_hash: Buffer.alloc(32, i),
        patient: i === 3 ? null : i % 2 === 0 ? "0xaa" : "0xbb",
        created_at: 1,
      }));
      await store.db.insertInto("audit_entries").values(rows).execute();
      await rest();
      const indexed = await store.db
        .selectFrom("audit_patient_runs")
        .select(["run", "patient", "idx"])
        .orderBy("patient")
        .orderBy("idx")
        .execute();
      expect(indexed.every((r) => Number(r.run) === 0)).toBe(true);
      expect(indexed.map((r) => `${r.patient}:${Number(r.idx)}`)).toEqual([
        "0xaa:0",
        "0xaa:2",
        "0xaa:4",
        "0xbb:1",
      ]);
      const mark = await store.db
        .selectFrom("meta")
        .select("value")
        .where("key", "=", AUDIT_PATIENT_WATERMARK)
        .executeTakeFirst();
      expect(mark?.value).toBe("5");
      const oldIndex =
        store.dialect === "sqlite"
          ? sql`select name from sqlite_master where type = 'index' and name = 'audit_entries_patient'`
          : sql`select indexname from pg_indexes where indexname = 'audit_entries_patient'`;
      expect((await oldIndex.execute(store.db)).rows).toEqual([]);
    } finally {
      await dispose();
    }
  });
});
