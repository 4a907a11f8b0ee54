import { afterEach, describe, expect, it, vi } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { openStore } from "../store/database.js";
import { BaseError } from "../errors/BaseError.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { AuditLog } from "./auditLog.js";
import {
  encodeAuditEntry,
  entryLeafHash,
  opens,
  storedEntry,
  type AuditEntry,
  type LoggedAuditEntry,
} from "./auditEntry.js";
import { merkleRoot } from "./merkleRoot.js";
import { verifyInclusion } from "./inclusionProof.js";
import { verifyConsistency } from "./consistencyProof.js";
import { verifyTreeHead, type TreeHeadDomain } from "./treeHead.js";

const PATIENT_A = "0x00000000000000000000000000000000000000Aa";
const PATIENT_B = "0x00000000000000000000000000000000000000bB";
const account = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const domain: TreeHeadDomain = {
  chainId: 31337,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};

function entry(i: number): AuditEntry {
  return {
    v: 1,
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    requestId: `req-${i}`,
    actor: { account: account.address, organization: "org-1" },
    patient: i % 3 === 0 ? PATIENT_A : PATIENT_B,
    action: i % 5 === 0 ? "deny" : "read",
    resources: [`Observation/${i}`],
    decision: i % 5 === 0 ? "deny" : "permit",
  };
}
/** The index of the entry before `i` about the same patient (the log links them with `prev`). */
const prevOf = (i: number): number | undefined => {
  for (let j = i - 1; j >= 0; j--) if ((j % 3 === 0) === (i % 3 === 0)) return j;
  return undefined;
};
/** Entry `i` as the log stores it, with its patient's `prev` link. */
const logged = (i: number): LoggedAuditEntry => storedEntry(entry(i), prevOf(i), null);
const leafOf = (i: number): Uint8Array => entryLeafHash(encodeAuditEntry(logged(i)));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Appends entries [0, n) in batches of 1, 2, 3, ... entries. */
async function fill(log: AuditLog, n: number): Promise<void> {
  for (let start = log.size(), step = 1; start < n; start += step, step++) {
    const end = Math.min(start + step, n);
    const r = await log.append(Array.from({ length: end - start }, (_, k) => entry(start + k)));
    expect(r).toEqual({ firstIndex: start, size: end });
  }
}

describe.each(engines)("AuditLog on %s", (engine) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  it("builds proofs for every (index, size) up to 64 that verify, and roots that match MTH", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store);
    expect(hex(await log.root())).toBe(hex(merkleRoot([])));
    await fill(log, 64);
    const leaves = Array.from({ length: 64 }, (_, i) => leafOf(i));
    const roots = [merkleRoot([])];
    for (let n = 1; n <= 64; n++) {
      roots[n] = merkleRoot(leaves.slice(0, n));
      expect(hex(await log.root(n)), `root ${n}`).toBe(hex(roots[n] as Uint8Array));
    }
    let checked = 0;
    for (let n = 1; n <= 64; n++) {
      const root = roots[n] as Uint8Array;
      const inclusion = await Promise.all(Array.from({ length: n }, (_, m) => log.inclusionProof(m, n)));
      inclusion.forEach((proof, m) => {
        expect(verifyInclusion(leaves[m] as Uint8Array, m, n, proof, root), `inclusion ${m}/${n}`).toBe(true);
        checked++;
      });
      const consistency = await Promise.all(
        Array.from({ length: n }, (_, k) => log.consistencyProof(k + 1, n)),
      );
      consistency.forEach((proof, k) => {
        expect(
          verifyConsistency(k + 1, n, roots[k + 1] as Uint8Array, root, proof),
          `consistency ${k + 1}->${n}`,
        ).toBe(true);
        checked++;
      });
    }
    expect(checked).toBe(2 * ((64 * 65) / 2));
    await expect(log.inclusionProof(64, 64)).rejects.toThrow(BaseError);
    await expect(log.consistencyProof(0, 64)).rejects.toThrow(BaseError);
    await expect(log.root(65)).rejects.toThrow("tree size out of range");
  });

  it("stores a patient's categories and reasons only as a commitment, opened from audit_openings", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store);
    const withFacts = (i: number): AuditEntry => ({
      ...entry(i),
      categories: ["mental-health", "labs"],
      reason: "sensitive-not-granted",
    });
    const noPatient: AuditEntry = { ...entry(3), categories: ["labs"], reason: "directory" };
    delete noPatient.patient;
    const marker: AuditEntry = { ...entry(4), reason: "intent" };
    await log.append([withFacts(0), withFacts(1), noPatient, marker]);
    const rows = await t.store.db
      .selectFrom("audit_entries")
      .select(["idx", "entry"])
      .orderBy("idx")
      .execute();
    for (const i of [0, 1]) {
      const text = rows[i]!.entry;
      expect(text).not.toMatch(/mental-health|labs|sensitive-not-granted|"categories"|"reason"/);
      expect(text).toMatch(/"commitment":"[0-9a-f]{64}".*"v":2\}$/);
    }
    // about no patient: kept in clear; a process marker: kept in clear, no commitment
    expect(rows[2]!.entry).toContain('"categories":["labs"]');
    expect(rows[3]!.entry).toContain('"reason":"intent"');
    expect(rows[3]!.entry).not.toContain("commitment");
    const openings = await t.store.db.selectFrom("audit_openings").selectAll().orderBy("idx").execute();
    expect(openings.map((o) => Number(o.idx))).toEqual([0, 1]);
    expect(new Set(openings.map((o) => o.salt)).size).toBe(2);
    const [a, b] = await log
      .entries({ patient: PATIENT_A, limit: 10 })
      .then(async (x) => [x[0], (await log.entries({ patient: PATIENT_B, limit: 10 }))[0]]);
    for (const e of [a, b]) {
      expect(e?.entry.categories).toBeUndefined();
      expect(e?.opened.categories).toEqual(["mental-health", "labs"]);
      expect(e?.opened.reason).toBe("sensitive-not-granted");
      expect(e && opens(e.entry, e.opening)).toBe(true);
    }
    // a tampered opening opens nothing
    await t.store.db
      .updateTable("audit_openings")
      .set({ facts: '{"categories":["labs"]}' })
      .where("idx", "=", 0)
      .execute();
    const tampered = await log.entry(0);
    expect(tampered?.opened.categories).toBeUndefined();
    expect(tampered && opens(tampered.entry, tampered.opening)).toBe(false);
    // removing the openings leaves a log that still verifies
    await t.store.db.deleteFrom("audit_openings").execute();
    expect(await log.verifyAll([])).toEqual({ ok: true });
  });

  it("resumes after reopening the database", async () => {
    t = await freshStore(engine);
    const first = await AuditLog.open(t.store);
    await fill(first, 23);
    const rootAt23 = await first.root();
    await t.store.close();
    const store = await openStore(t.location);
    t = { ...t, store };
    const log = await AuditLog.open(store);
    expect(log.size()).toBe(23);
    expect(hex(await log.root())).toBe(hex(rootAt23));
    await fill(log, 40);
    const leaves = Array.from({ length: 40 }, (_, i) => leafOf(i));
    expect(hex(await log.root())).toBe(hex(merkleRoot(leaves)));
    expect(verifyConsistency(23, 40, rootAt23, await log.root(), await log.consistencyProof(23))).toBe(true);
    expect((await log.entry(39))?.entry).toEqual(logged(39));
  });

  it("groups concurrent enqueue calls into few transactions", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store);
    const spy = vi.spyOn(t.store.db, "transaction");
    const indices = await Promise.all(Array.from({ length: 2500 }, (_, i) => log.enqueue(entry(i))));
    expect(indices).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(spy.mock.calls.length).toBeLessThanOrEqual(4);
    expect(log.size()).toBe(2500);
    await expect(log.enqueue({ ...entry(1), action: "peek" } as unknown as AuditEntry)).rejects.toThrow(
      "invalid audit entry",
    );
    expect(hex(await log.root())).toBe(hex(merkleRoot(Array.from({ length: 2500 }, (_, i) => leafOf(i)))));
  });

  it("rejects an invalid batch as a whole", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store);
    await expect(log.append([entry(0), { ...entry(1), patient: "Jane Doe" }])).rejects.toThrow(
      "invalid audit entry",
    );
    expect(log.size()).toBe(0);
  });

  it("places a second writer's batch after the first's", async () => {
    t = await freshStore(engine);
    const a = await AuditLog.open(t.store);
    const b = await AuditLog.open(t.store);
    await a.append([entry(0), entry(1), entry(2)]);
    expect(await b.append([entry(3), entry(4)])).toEqual({ firstIndex: 3, size: 5 });
    expect(hex(await b.root())).toBe(hex(merkleRoot([0, 1, 2, 3, 4].map(leafOf))));
  });

  it("lists a patient's entries by index with paging, whatever the address case", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store);
    await fill(log, 30);
    const all = await log.entries({ patient: PATIENT_A.toLowerCase(), limit: 1000 });
    expect(all.map((e) => e.index)).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
    const page = await log.entries({
      patient: PATIENT_A.toUpperCase().replace("0X", "0x"),
      afterIndex: 9,
      limit: 2,
    });
    expect(page.map((e) => e.index)).toEqual([12, 15]);
    const e = page[0];
    expect(e && hex(e.leafHash)).toBe(hex(leafOf(12)));
    expect(await log.entry(99)).toBeUndefined();
  });

  it("signs, records and anchors tree heads", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store, { now: () => 1_700_000_000_000 });
    await fill(log, 10);
    const head = await log.createTreeHead(account, domain);
    expect(head).toMatchObject({ treeSize: 10, timestamp: 1_700_000_000, node: account.address });
    expect(await verifyTreeHead(head, domain)).toBe(true);
    await log.recordTreeHead(head);
    await expect(log.recordTreeHead({ ...head, rootHash: `0x${"00".repeat(32)}` })).rejects.toThrow(
      "tree head root is not this log's root",
    );
    expect(await log.treeHeads({ status: "anchored" })).toEqual([]);
    await log.markAnchored(10, 123, `0x${"11".repeat(32)}`);
    await expect(log.markAnchored(11, 124)).rejects.toThrow("no tree head recorded for this size");
    const anchored = await log.treeHeads({ status: "anchored" });
    expect(anchored).toEqual([
      { ...head, status: "anchored", anchoredBlock: 123, anchoredTx: `0x${"11".repeat(32)}` },
    ]);
    expect((await log.latestTreeHead())?.treeSize).toBe(10);
  });

  it("persists the patient map when a head is anchored, and a reopened log starts from it, not from the whole log", async () => {
    t = await freshStore(engine);
    const log = await AuditLog.open(t.store);
    await fill(log, 30);
    const head = await log.createTreeHead(account, domain);
    await log.markAnchored(30, 1);
    expect(await log.patientMapPersisted()).toBe(30);
    const rows = await t.store.db.selectFrom("audit_patient_map").selectAll().orderBy("patient").execute();
    expect(rows.map((r) => [r.patient, Number(r.last_idx), Number(r.entry_count)])).toEqual([
      [PATIENT_A.toLowerCase(), 27, 10],
      [PATIENT_B.toLowerCase(), 29, 20],
    ]);
    await fill(log, 37);
    const rootAt37 = (await log.createTreeHead(account, domain)).mapRoot;
    await fill(log, 40);
    await log.stopBackground();
    await t.store.close();

    // Entries below the persisted size lose their patient column: a start that replayed them
    // would build another map; this one reads the rows and replays entries 30.. only.
    const store = await openStore(t.location);
    t = { ...t, store };
    await store.db.updateTable("audit_entries").set({ patient: null }).where("idx", "<", 30).execute();
    const reopened = await AuditLog.open(store);
    expect(reopened.mapRoot(30)).toBe(head.mapRoot);
    expect(reopened.mapRoot(37)).toBe(rootAt37);
    expect(reopened.patientMapProof(PATIENT_A, 37)?.leaf).toMatchObject({ last: 36, count: 13 });
    const next = await reopened.append([entry(40)]);
    expect((await reopened.entry(next.firstIndex))?.entry).toEqual(logged(40));
    // The full check recomputes from the entry texts and finds the altered column.
    expect(await reopened.verifyAll([])).toEqual({
      ok: false,
      firstBadIndex: 0,
      reason: "entry 0: the stored patient column differs from the entry's patient",
    });
  });

  it("signs the same heads, proofs and persisted map with the patient map's trees built on a worker thread", async () => {
    t = await freshStore(engine);
    const other = await freshStore(engine);
    try {
      const onWorker = await AuditLog.open(t.store, { patientMapWorkerFrom: 0 });
      const here = await AuditLog.open(other.store, { patientMapWorkerFrom: Infinity });
      for (const size of [30, 37, 64]) {
        await fill(onWorker, size);
        await fill(here, size);
        const [a, b] = [
          await onWorker.createTreeHead(account, domain),
          await here.createTreeHead(account, domain),
        ];
        expect(a.mapRoot).toBe(b.mapRoot);
        await onWorker.markAnchored(size, size);
        await here.markAnchored(size, size);
        for (const patient of [PATIENT_A, PATIENT_B, "0x00000000000000000000000000000000000000cc"])
          expect(onWorker.patientMapProof(patient, size)).toEqual(here.patientMapProof(patient, size));
      }
      expect(onWorker.patientMapProof(PATIENT_A, 64)?.leaf).toMatchObject({ last: 63, count: 22 });
      expect(await onWorker.patientMapPersisted()).toBe(30);
      const rows = await t.store.db.selectFrom("audit_patient_map").selectAll().orderBy("patient").execute();
      expect(rows.map((r) => [r.patient, Number(r.last_idx), Number(r.entry_count)])).toEqual([
        [PATIENT_A.toLowerCase(), 27, 10],
        [PATIENT_B.toLowerCase(), 29, 20],
      ]);
      await onWorker.stopBackground();
      await here.stopBackground();
      // Stopped: later heads are built on this thread, with the same roots.
      await fill(onWorker, 70);
      await fill(here, 70);
      expect((await onWorker.createTreeHead(account, domain)).mapRoot).toBe(
        (await here.createTreeHead(account, domain)).mapRoot,
      );
      expect(await onWorker.verifyAll([])).toEqual({ ok: true });
    } finally {
      await other.dispose();
    }
  });

  describe("verifyAll", () => {
    async function anchoredLog(): Promise<{
      log: AuditLog;
      anchors: Array<{ treeSize: number; rootHash: Uint8Array }>;
    }> {
      t = await freshStore(engine);
      const log = await AuditLog.open(t.store);
      const anchors = [];
      for (const size of [7, 16, 33]) {
        await fill(log, size);
        anchors.push({ treeSize: size, rootHash: await log.root() });
      }
      await fill(log, 40);
      return { log, anchors };
    }

    it("accepts an untouched log and its anchors", async () => {
      const { log, anchors } = await anchoredLog();
      expect(await log.verifyAll(anchors)).toEqual({ ok: true });
      expect(await log.verifyAll([])).toEqual({ ok: true });
    });

    it("finds an edited entry", async () => {
      const { log, anchors } = await anchoredLog();
      const db = (t as TestStore).store.db;
      const edited = encodeAuditEntry({ ...logged(21), requestId: "req-forged" });
      await db.updateTable("audit_entries").set({ entry: edited }).where("idx", "=", 21).execute();
      expect(await log.verifyAll(anchors)).toEqual({
        ok: false,
        firstBadIndex: 21,
        reason: "entry 21 does not match its stored leaf hash",
      });
      // Also rewriting the stored leaf hash does not hide it: the subtree entry 21 completed still
      // holds the old leaf, so the report names that subtree's entries.
      await db
        .updateTable("audit_entries")
        .set({ leaf_hash: Buffer.from(entryLeafHash(edited)) })
        .where("idx", "=", 21)
        .execute();
      expect(await log.verifyAll(anchors)).toEqual({
        ok: false,
        firstBadIndex: 20,
        reason: "entries 20..21 do not match the subtree stored at level 1",
      });
    });

    it("finds a deleted entry", async () => {
      const { log, anchors } = await anchoredLog();
      await (t as TestStore).store.db.deleteFrom("audit_entries").where("idx", "=", 9).execute();
      expect(await log.verifyAll(anchors)).toEqual({
        ok: false,
        firstBadIndex: 9,
        reason: "entry 9 is missing",
      });
    });

    it("finds a swapped pair of entries in the smallest stored subtree around the first", async () => {
      const { log, anchors } = await anchoredLog();
      const db = (t as TestStore).store.db;
      const rows = await db
        .selectFrom("audit_entries")
        .selectAll()
        .where("idx", "in", [13, 30])
        .orderBy("idx")
        .execute();
      const [r13, r30] = rows as [(typeof rows)[number], (typeof rows)[number]];
      // Swap whole rows (text, leaf hash and patient): only the tree can tell.
      await db
        .updateTable("audit_entries")
        .set({ entry: r30.entry, leaf_hash: r30.leaf_hash, patient: r30.patient })
        .where("idx", "=", 13)
        .execute();
      await db
        .updateTable("audit_entries")
        .set({ entry: r13.entry, leaf_hash: r13.leaf_hash, patient: r13.patient })
        .where("idx", "=", 30)
        .execute();
      expect(await log.verifyAll(anchors)).toEqual({
        ok: false,
        firstBadIndex: 12,
        reason: "entries 12..13 do not match the subtree stored at level 1",
      });
    });

    it("finds a log rewritten consistently after anchoring, and a truncated one", async () => {
      const { log, anchors } = await anchoredLog();
      const forged = anchors.map((a, i) => (i === 1 ? { ...a, rootHash: new Uint8Array(32) } : a));
      expect(await log.verifyAll(forged)).toEqual({
        ok: false,
        reason: "root at tree size 16 differs from the anchored root: entries 7..15 were rewritten",
      });
      expect(await log.verifyAll([...anchors, { treeSize: 41, rootHash: new Uint8Array(32) }])).toMatchObject(
        { ok: false, firstBadIndex: 40 },
      );
    });
  });
});
