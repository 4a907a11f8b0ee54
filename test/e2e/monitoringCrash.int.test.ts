import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/auditLog.js";
import { Auditor } from "../../src/audit/auditor.js";
import { ConsentGate } from "../../src/consent/consentGate.js";
import { GrantIndex } from "../../src/consent/grantIndex.js";
import { loadOrCreateLocalKeyProvider } from "../../src/crypto/keyProvider.js";
import { PatientKeyring } from "../../src/crypto/patientKeys.js";
import type { BatchEnvelope } from "../../src/monitoring/batch.js";
import { MonitoringService } from "../../src/monitoring/monitoringService.js";
import { DeviceSimulator } from "../../src/monitoring/simulator.js";
import { openStore } from "../../src/store/database.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

const ROOT = join(import.meta.dirname, "..", "..");
const WORKER = join(ROOT, "test", "support", "monitoringIngestWorker.ts");
const PATIENT_ID = "crash-rpm";

function startWorker(db: string, dataDir: string, account: string) {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, db, dataDir, PATIENT_ID, account], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  // the test kills the worker while batches are still on their way to it: those writes fail
  // (EPIPE), which is the point, not an error of the test
  child.stdin.on("error", () => undefined);
  const acks: { batchId: string; accepted: number; replayed: boolean }[] = [];
  const errors: string[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  let buffer = "";
  child.stdout.on("data", (d: Buffer) => {
    buffer += d.toString();
    let cut: number;
    while ((cut = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 1);
      if (line === "ready") ready();
      else if (line.startsWith("ack ")) {
        const [, batchId, accepted, replayed] = line.split(" ");
        acks.push({ batchId: batchId!, accepted: Number(accepted), replayed: replayed === "true" });
      } else if (line.startsWith("error ")) errors.push(line);
    }
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((r) =>
    child.on("exit", (code, signal) => r(signal ?? code)),
  );
  return {
    child: child as ChildProcessWithoutNullStreams,
    acks,
    errors,
    isReady,
    exited,
    stderr: () => stderr,
  };
}

/**
 * The crash promise for device batches: a process ingesting batches is killed with SIGKILL
 * mid-stream; every batch it acknowledged is stored, once; the device resends everything it sent
 * (it cannot know what the dead process kept) to a new process, which stores what was lost and
 * recognizes the rest, so no batch is stored twice.
 */
describe.each(engines)("monitoring ingest killed with SIGKILL (%s)", (engine) => {
  const dataDir = mkdtempSync(join(tmpdir(), "carechain-rpm-crash-"));
  let database: FreshDatabase | undefined;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  });

  it("loses no acknowledged batch and stores none twice", async () => {
    if (engine === "postgres") database = await freshDatabase();
    const db = database?.url ?? join(dataDir, "node.db");
    const account = privateKeyToAccount(generatePrivateKey()).address;
    const sim = new DeviceSimulator({ seed: 3 });
    // register the device as the patient, in this process, on the same database and master key
    {
      const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
      const audit = await AuditLog.open(store);
      const m = new MonitoringService({
        store,
        keyring: new PatientKeyring(store, loadOrCreateLocalKeyProvider(join(dataDir, "master-key"))),
        gate: new ConsentGate(new GrantIndex(), { active: () => undefined }),
        auditor: new Auditor(audit, "0x000000000000000000000000000000000000a0de"),
        patients: { accountOf: (id) => Promise.resolve(id === PATIENT_ID ? account : undefined) },
      });
      const row = await m.devices.register(
        { account, kind: "patient", purpose: "PATRQT", authenticatedBy: "siwe-session", requestId: "setup" },
        { patientId: PATIENT_ID, publicKey: sim.keyOf(0).publicJwk, model: "home kit" },
      );
      sim.attach(0, row.device_id);
      await audit.flush();
      await audit.stopBackground();
      await store.close();
    }

    const sent: BatchEnvelope[] = [];
    const first = startWorker(db, dataDir, account);
    await first.isReady;
    // stream batches until some 40 are acknowledged, then kill the process mid-stream
    const start = Date.now();
    for (let i = 0; first.acks.length < 40 && Date.now() - start < 60_000; i++) {
      const batch = sim.nextBatch(0, Date.now() - 60_000 + i * 10, 5, 1);
      sent.push(batch);
      first.child.stdin.write(`${JSON.stringify(batch)}\n`);
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 5));
    }
    // more in flight as it dies
    for (let i = 0; i < 30; i++) {
      const batch = sim.nextBatch(0, Date.now() - 30_000 + i * 10, 5, 1);
      sent.push(batch);
      first.child.stdin.write(`${JSON.stringify(batch)}\n`);
    }
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    expect(first.errors).toEqual([]);
    const acked = first.acks.map((a) => a.batchId);
    expect(acked.length).toBeGreaterThanOrEqual(40);

    const stored = async () => {
      const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
      try {
        return (
          await store.db
            .withTables<{ monitoring_batches: { batch_id: string } }>()
            .selectFrom("monitoring_batches")
            .select("batch_id")
            .execute()
        ).map((r) => r.batch_id);
      } finally {
        await store.close();
      }
    };
    const afterCrash = await stored();
    for (const id of acked) expect(afterCrash).toContain(id);

    // the device resends everything to a new process
    const second = startWorker(db, dataDir, account);
    await second.isReady;
    for (const batch of sent) second.child.stdin.write(`${JSON.stringify(batch)}\n`);
    second.child.stdin.end();
    expect(await second.exited).toBe(0);
    expect(second.errors).toEqual([]);
    expect(second.acks).toHaveLength(sent.length);
    for (const a of second.acks) {
      // what the first process had stored is recognized: nothing of it is stored again
      if (afterCrash.includes(a.batchId)) expect(a).toMatchObject({ accepted: 0, replayed: true });
      else expect(a.accepted).toBeGreaterThan(0);
    }
    const final = await stored();
    expect(final).toHaveLength(sent.length);
    expect(new Set(final).size).toBe(final.length);
  }, 120_000);
});
