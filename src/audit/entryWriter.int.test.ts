/**
 * The audit log's writing thread (src/audit/entryWriter.ts) on a SQLite file: the log it writes
 * is the one this thread writes, batch for batch; a second writer on the same database and a
 * thread that dies mid-stream leave every entry exactly once, with intact patient chains.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { freshStore, type TestStore } from "../../test/support/stores.js";
import { AuditLog, type StoredAuditEntry } from "./auditLog.js";
import { entryLeafHash, type AuditEntry } from "./auditEntry.js";
import { verifyInclusion } from "./inclusionProof.js";
import { indexedUpTo } from "./patientIndex.js";
import { EntryWriter } from "./entryWriter.js";

const ACTOR = "0x00000000000000000000000000000000000000c1";
const signer = privateKeyToAccount(generatePrivateKey());
const DOMAIN = { chainId: 31337, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } as const;
const patient = (p: number) => `0x${(0xa000 + p).toString(16).padStart(40, "0")}`;

/** Entry `i`, about one of `patients` patients (every seventh about nobody), with a unique request id. */
function entry(i: number, patients = 25, tag = "t"): AuditEntry {
  const about = i % 7 === 0 ? {} : { patient: patient(i % patients) };
  return {
    v: 1,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
    requestId: `${tag}-${i}`,
    actor: { account: ACTOR, organization: "org-1", role: "physician" },
    ...about,
    action: "read",
    resources: [`Observation/o${i}`],
    categories: ["labs"],
    purpose: "TREAT",
    decision: "permit",
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Every entry in the log, in index order. */
async function everyEntry(log: AuditLog): Promise<StoredAuditEntry[]> {
  const all: StoredAuditEntry[] = [];
  for (let i = 0; i < log.size(); i++) all.push((await log.entry(i))!);
  return all;
}

/** Every request id in the log, in index order. */
const requestIds = async (log: AuditLog): Promise<string[]> =>
  (await everyEntry(log)).map((e) => e.entry.requestId);

describe("AuditLog's writing thread on SQLite", () => {
  const stores: TestStore[] = [];
  const logs: AuditLog[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const log of logs.splice(0)) await log.stopBackground();
    for (const t of stores.splice(0)) await t.dispose();
  });
  async function open(threaded: boolean, t?: TestStore): Promise<{ t: TestStore; log: AuditLog }> {
    const store = t ?? (await freshStore("sqlite"));
    if (t === undefined) stores.push(store);
    const log = await AuditLog.open(store.store, { writeOnThread: threaded });
    logs.push(log);
    return { t: store, log };
  }

  it("writes, batch for batch, the log this thread writes: roots, proofs, chains and openings", async () => {
    const threaded = await open(true);
    const here = await open(false);
    expect(threaded.log.writesOnThread()).toBe(true);
    expect(here.log.writesOnThread()).toBe(false);
    // Concurrent enqueues: several batches are in flight on the thread at once.
    for (const { log } of [threaded, here]) {
      const indexes = await Promise.all(Array.from({ length: 6000 }, (_, i) => log.enqueue(entry(i))));
      expect(indexes).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    }
    expect(threaded.log.size()).toBe(6000);
    // The texts differ only by their salts; with those stripped, the logs are the same.
    const a = await everyEntry(threaded.log);
    const b = await everyEntry(here.log);
    expect(a.map((e) => ({ ...e.entry, commitment: undefined }))).toEqual(
      b.map((e) => ({ ...e.entry, commitment: undefined })),
    );
    expect(a.filter((e) => e.entry.prev !== undefined).length).toBeGreaterThan(5000);
    expect(await threaded.log.verifyAll([])).toEqual({ ok: true });
    // Every opening is there, for every entry about a patient.
    const openings = await threaded.t.store.db.selectFrom("audit_openings").select("idx").execute();
    expect(openings.length).toBe(a.filter((e) => e.entry.patient !== undefined).length);
    // The deferred patient index, written on the thread too, lists every entry about a patient.
    await threaded.log.indexPatients();
    const runs = await threaded.t.store.db.selectFrom("audit_patient_runs").select("idx").execute();
    expect(runs.length).toBe(openings.length);
    expect(await indexedUpTo(threaded.t.store.db)).toBe(6000);
    // The patient map persisted at an anchored head, on the thread too: every patient's row.
    await threaded.log.createTreeHead(signer, DOMAIN);
    await threaded.log.markAnchored(6000, 1);
    expect(await threaded.log.patientMapPersisted()).toBe(6000);
    const mapRows = await threaded.t.store.db.selectFrom("audit_patient_map").selectAll().execute();
    expect(mapRows.length).toBe(25);
    expect(mapRows.reduce((n, r) => n + Number(r.entry_count), 0)).toBe(openings.length);
    // Proofs from the stored subtrees the thread wrote.
    const root = await threaded.log.root(4321);
    const proof = await threaded.log.inclusionProof(1234, 4321);
    expect(verifyInclusion(entryLeafHash(a[1234]!.text), 1234, 4321, proof, root)).toBe(true);
  });

  it("places another writer's batches between its own, and keeps every chain", async () => {
    const first = await open(true);
    const second = await open(false, first.t);
    const a = Array.from({ length: 3000 }, (_, i) => first.log.enqueue(entry(i, 10, "a")));
    const b = Array.from({ length: 3000 }, (_, i) => second.log.enqueue(entry(i, 10, "b")));
    await Promise.all([...a, ...b]);
    await first.log.flush();
    const reopened = await open(false, first.t);
    expect(reopened.log.size()).toBe(6000);
    const ids = await requestIds(reopened.log);
    expect(new Set(ids).size).toBe(6000);
    expect(await reopened.log.verifyAll([])).toEqual({ ok: true });
  });

  it("loses and duplicates nothing when the thread dies mid-stream, and goes on writing here", async () => {
    const write = vi.spyOn(EntryWriter.prototype, "write");
    const { t, log } = await open(true);
    const pushed: Array<Promise<number>> = [];
    for (let i = 0; i < 4000; i++) {
      pushed.push(log.enqueue(entry(i)));
      if (i === 2500) {
        // Some batches are committed by now, others posted and not answered.
        await new Promise((r) => setImmediate(r));
        await (write.mock.contexts[0] as EntryWriter).terminate();
      }
    }
    const indexes = await Promise.all(pushed);
    expect(new Set(indexes).size).toBe(4000);
    expect(log.writesOnThread()).toBe(false);
    await log.enqueue(entry(4000));
    const reopened = await open(false, t);
    const ids = await requestIds(reopened.log);
    expect(ids.length).toBe(4001);
    expect(new Set(ids).size).toBe(4001);
    expect(await reopened.log.verifyAll([])).toEqual({ ok: true });
    expect(hex(await reopened.log.root())).toBe(hex(await log.root()));
  });
});
