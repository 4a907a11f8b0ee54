import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { AuditLog } from "../../src/audit/auditLog.js";
import { Auditor } from "../../src/audit/auditor.js";
import { loadOrCreateLocalKeyProvider } from "../../src/crypto/keyProvider.js";
import { PatientKeyring } from "../../src/crypto/patientKeys.js";
import { IntentSweeper } from "../../src/records/intentSweeper.js";
import { PatientLinks } from "../../src/records/patientLinks.js";
import { openStore, type Store } from "../../src/store/database.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

const ROOT = join(import.meta.dirname, "..", "..");
const WORKER = join(ROOT, "test", "support", "recordWriteWorker.ts");
const CRASH_PATIENT = "0x00000000000000000000000000000000000C4a54";
const SWEEPER_NODE = "0x000000000000000000000000000000000000a0de" as Address;

/** Runs the records worker once; resolves with how it ended. */
function run(db: string, dataDir: string, op: string, crashAt?: string) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const env = { ...process.env };
    delete env.CARECHAIN_CRASH_AT;
    if (crashAt) env.CARECHAIN_CRASH_AT = crashAt;
    const child = spawn(process.execPath, ["--import", "tsx", WORKER, db, dataDir, op, CRASH_PATIENT], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** What the database holds after the worker ended: the versions and the log's entries about the patient. */
async function inspect(store: Store) {
  const versions = (
    await store.db
      .selectFrom("resource_versions")
      .select(["version_id"])
      .where("type", "=", "Condition")
      .where("id", "=", "crash-c")
      .execute()
  ).map((r) => Number(r.version_id));
  const erasedKey = await store.db
    .selectFrom("patient_keys")
    .select(["erased_at"])
    .where("patient", "=", "Patient/crash-p")
    .executeTakeFirst();
  const log = await AuditLog.open(store);
  const entries = (await log.entries({ patient: CRASH_PATIENT, limit: 1000 })).map((e) => e.entry);
  await log.stopBackground();
  return { versions, erased: erasedKey?.erased_at != null, entries };
}

/** Completes the intents left open, as a node does at start (in this process, no grace period). */
async function sweep(db: string, dataDir: string): Promise<number> {
  const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
  const log = await AuditLog.open(store);
  try {
    const keyring = new PatientKeyring(store, loadOrCreateLocalKeyProvider(join(dataDir, "master-key")));
    const sweeper = new IntentSweeper({
      store,
      audit: log,
      auditor: new Auditor(log, SWEEPER_NODE),
      keyring,
      links: new PatientLinks(store),
      graceMs: 0,
    });
    const { completed } = await sweeper.sweep();
    await log.flush();
    return completed;
  } finally {
    await log.stopBackground();
    await store.close();
  }
}

/**
 * Issue 13 item 7: a write or an erasure was committed before its audit entry, so a crash in
 * between left a change with no entry. The node is killed with SIGKILL right after the durable
 * intent entry, and right after the commit; on reopening, every committed change has its entry,
 * and the sweep a node runs at start completes each open intent with the outcome the database
 * shows (and nothing else: a second sweep adds nothing).
 */
describe.each(engines)("a write and its audit entry under SIGKILL (%s)", (engine) => {
  const dirs: string[] = [];
  const databases: FreshDatabase[] = [];
  afterAll(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const d of databases) await d.drop();
  });

  async function seeded(): Promise<{ db: string; dataDir: string }> {
    const dataDir = mkdtempSync(join(tmpdir(), "carechain-crash-"));
    dirs.push(dataDir);
    let db = join(dataDir, "node.db");
    if (engine === "postgres") {
      const database = await freshDatabase();
      databases.push(database);
      db = database.url;
    }
    const seed = await run(db, dataDir, "seed");
    expect(seed.stderr).toBe("");
    expect(seed.code).toBe(0);
    return { db, dataDir };
  }

  async function afterRun(db: string) {
    const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
    try {
      return await inspect(store);
    } finally {
      await store.close();
    }
  }

  /** The index of the intent entry that names `ref`. */
  async function openIndexOf(db: string, ref: string): Promise<number | undefined> {
    const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
    try {
      const log = await AuditLog.open(store);
      const all = await log.entries({ patient: CRASH_PATIENT, limit: 1000 });
      await log.stopBackground();
      return all.find((e) => e.entry.reason === "intent" && e.entry.resources?.includes(ref))?.index;
    } finally {
      await store.close();
    }
  }

  const about = (entries: Awaited<ReturnType<typeof inspect>>["entries"], action: string, ref?: string) =>
    entries.filter((e) => e.action === action && (ref === undefined || e.resources?.includes(ref)));

  it("update: killed after the intent, no version 2 and its intent entry; killed after the commit, both", async () => {
    const v2 = "Condition/crash-c/_history/2";
    for (const point of ["write:after-commit", "write:after-intent", undefined]) {
      const { db, dataDir } = await seeded();
      const ran = await run(db, dataDir, "update", point);
      expect(ran.signal).toBe(point ? "SIGKILL" : null);
      const { versions, entries } = await afterRun(db);
      // whatever the point: no committed version without an entry naming it
      for (const v of versions)
        expect(
          entries.some((e) => e.resources?.includes(`Condition/crash-c/_history/${v}`)),
          `an entry for version ${v} after a crash at ${point}`,
        ).toBe(true);
      const written = about(entries, "update", v2).map((e) => e.reason);
      if (point === "write:after-intent") {
        expect(versions).toEqual([1]);
        expect(written).toEqual(["intent"]);
      } else if (point === "write:after-commit") {
        expect(versions).toEqual([1, 2]);
        expect(written).toEqual(["intent"]);
      } else {
        expect(versions).toEqual([1, 2]);
        expect(written).toEqual(["intent", "committed"]);
      }
      expect(await sweep(db, dataDir)).toBe(point ? 1 : 0);
      expect(await sweep(db, dataDir)).toBe(0);
      const after = await afterRun(db);
      const intentIndex = (await openIndexOf(db, v2)) ?? -1;
      const outcome = about(after.entries, "update", v2).map((e) => e.reason);
      if (point === "write:after-intent")
        expect(outcome).toEqual(["intent", `not committed: completes intent ${intentIndex}`]);
      else if (point === "write:after-commit")
        expect(outcome).toEqual(["intent", `committed: completes intent ${intentIndex}`]);
      else expect(outcome).toEqual(["intent", "committed"]);
    }
  }, 300_000);

  it("erase: killed after the intent, nothing erased and its intent entry; killed after the commit, both", async () => {
    for (const point of ["erase:after-commit", "erase:after-intent", undefined]) {
      const { db, dataDir } = await seeded();
      const ran = await run(db, dataDir, "erase", point);
      expect(ran.signal).toBe(point ? "SIGKILL" : null);
      const { erased, entries } = await afterRun(db);
      const reasons = about(entries, "erase").map((e) => e.reason);
      // whatever the point: no erasure without an entry
      if (erased) expect(reasons.length, `an erase entry after a crash at ${point}`).toBeGreaterThan(0);
      expect(erased).toBe(point !== "erase:after-intent");
      if (point === undefined) expect(reasons).toEqual(["intent", "committed: crypto-shredded 2 resources"]);
      else expect(reasons).toEqual(["intent"]);
      expect(await sweep(db, dataDir)).toBe(point ? 1 : 0);
      expect(await sweep(db, dataDir)).toBe(0);
      const after = about((await afterRun(db)).entries, "erase").map((e) => e.reason);
      if (point === "erase:after-intent") expect(after[1]).toMatch(/^not committed: completes intent \d+$/);
      else if (point === "erase:after-commit")
        expect(after[1]).toMatch(/^committed: crypto-shredded 2 resources; completes intent \d+$/);
      expect(after).toHaveLength(2);
    }
  }, 300_000);
});
