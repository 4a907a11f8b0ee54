/**
 * Audit log benchmark on SQLite: (1) append throughput through the full path (validation,
 * RFC 8785 encoding, hashing, one transaction per batch) with `append` batches and with
 * concurrent `enqueue` callers; (2) inclusion and consistency proof generation in a log of
 * 10M leaves (`AUDIT_BENCH_LEAVES` overrides).
 *
 * Honest note on (2): appending 10M entries through the full path would take minutes, so the
 * entry rows are built directly in bulk: leaf hashes are random 32-byte values, every interior
 * node is SHA-256(0x01 || left || right) as in `append` and stored in the row of the leaf that
 * completes it, rows go in in key order with raw multi-row INSERTs (journal off,
 * synchronous=OFF, exclusive lock during the build only), and each row's entry text is the
 * placeholder `{}` (proofs read only hashes; it does not match the random leaf hash, so
 * `verifyAll` would refuse this log). Each row names one of 50,000 patients, and the deferred
 * patient index (`audit_patient_runs`) is filled for all of them with its watermark at the end, so
 * (3) a patient's access-log lookup is measured at that size too. `--quick` uses 1M leaves.
 * The proofs are then built by `AuditLog` exactly as in production, on a freshly reopened store,
 * and a sample is verified. Run: `npx tsx bench/auditProof.ts` (prints JSON; nothing asserted).
 */
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { AuditLog } from "../src/audit/auditLog.js";
import type { AuditEntry } from "../src/audit/auditEntry.js";
import { verifyConsistency } from "../src/audit/consistencyProof.js";
import { verifyInclusion } from "../src/audit/inclusionProof.js";
import { patientEntries } from "../src/audit/patientIndex.js";
import { pushLeaf, type EdgeNode } from "../src/audit/serverHash.js";
import { openStore } from "../src/store/database.js";
import { AUDIT_PATIENT_WATERMARK } from "../src/store/migrations/007_audit_patient_index.js";
import { AUDIT_PATIENT_RUN } from "../src/store/migrations/010_audit_patient_runs.js";
import { isMain, runAsScript, type BenchOptions } from "./support/report.js";

const ACCOUNT = "0x00000000000000000000000000000000000000a1";
/** Patients of the big log: row `i` is about patient `i % PATIENTS`. */
const PATIENTS = 50_000;
const patientOf = (p: number): string => `0x${(0xa00000 + p).toString(16).padStart(40, "0")}`;

function entry(i: number): AuditEntry {
  return {
    v: 1,
    time: new Date(1_750_000_000_000 + i).toISOString(),
    requestId: `req-${i}`,
    actor: { account: ACCOUNT, organization: "org-1", role: "physician" },
    patient: `0x${(i % 5000).toString(16).padStart(40, "0")}`,
    action: "read",
    resources: [`Observation/${i}`],
    categories: ["labs"],
    purpose: "TREAT",
    decision: "permit",
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

async function appendThroughput(sqlitePath: string) {
  const store = await openStore({ sqlitePath });
  const log = await AuditLog.open(store);
  const batches = 100;
  const batchSize = 1000;
  const all = Array.from({ length: batches * batchSize }, (_, i) => entry(i));
  let t = performance.now();
  for (let b = 0; b < batches; b++) await log.append(all.slice(b * batchSize, (b + 1) * batchSize));
  const appendSeconds = (performance.now() - t) / 1000;
  const concurrent = 50_000;
  t = performance.now();
  await Promise.all(
    Array.from({ length: concurrent }, (_, i) => log.enqueue(entry(batches * batchSize + i))),
  );
  const enqueueSeconds = (performance.now() - t) / 1000;
  const size = log.size();
  await store.close();
  return {
    appendBatches: {
      entries: batches * batchSize,
      batchSize,
      seconds: round(appendSeconds),
      entriesPerSecond: Math.round((batches * batchSize) / appendSeconds),
    },
    enqueueConcurrent: {
      entries: concurrent,
      seconds: round(enqueueSeconds),
      entriesPerSecond: Math.round(concurrent / enqueueSeconds),
    },
    finalSize: size,
  };
}

/**
 * Fills `audit_entries` for `leaves` random leaves in bulk; returns build seconds. Rows are
 * written leaf by leaf, with the right edge on a stack giving each row the subtrees it completes,
 * which is the table's key order, so every insert lands at the b-tree's right end; cached
 * 256-row INSERT statements, journal off and an exclusive lock during the build only.
 */
async function buildBigTree(path: string, leaves: number): Promise<number> {
  await (await openStore({ sqlitePath: path })).close();
  const t = performance.now();
  const db = new Database(path);
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.pragma("locking_mode = EXCLUSIVE");
  db.pragma("cache_size = -262144");
  const ROWS = 256;
  const head = "insert into audit_entries (idx, entry, leaf_hash, patient, created_at, subtrees) values ";
  const many = db.prepare(head + Array.from({ length: ROWS }, () => "(?, '{}', ?, ?, 0, ?)").join(", "));
  const one = db.prepare(`${head}(?, '{}', ?, ?, 0, ?)`);
  const patients = Array.from({ length: PATIENTS }, (_, p) => patientOf(p));
  const params: unknown[] = [];
  const edge: EdgeNode[] = [];
  const random = Buffer.allocUnsafe(32 * 4096);
  db.exec("begin");
  for (let i = 0; i < leaves; i++) {
    if (i % 4096 === 0) randomFillSync(random);
    const leaf = Buffer.from(random.subarray((i % 4096) * 32, (i % 4096) * 32 + 32));
    const completed = pushLeaf(edge, i, leaf);
    params.push(i, leaf, patients[i % PATIENTS], completed.length === 0 ? null : Buffer.concat(completed));
    if (params.length === ROWS * 4) {
      many.run(params);
      params.length = 0;
    }
  }
  for (let k = 0; k < params.length; k += 4) one.run(params[k], params[k + 1], params[k + 2], params[k + 3]);
  // The patient index as the indexer leaves it: every run's pairs in key order, watermark at the end.
  const pair = db.prepare("insert into audit_patient_runs (run, patient, idx) values (?, ?, ?)");
  for (let run = 0; run * AUDIT_PATIENT_RUN < leaves; run++) {
    const from = run * AUDIT_PATIENT_RUN;
    const to = Math.min(leaves, from + AUDIT_PATIENT_RUN);
    const idx = Array.from({ length: to - from }, (_, k) => from + k);
    idx.sort((a, b) => (a % PATIENTS) - (b % PATIENTS) || a - b);
    for (const i of idx) pair.run(run, patients[i % PATIENTS], i);
  }
  db.prepare("update meta set value = ? where key = ?").run(String(leaves), AUDIT_PATIENT_WATERMARK);
  db.exec("commit");
  db.pragma("locking_mode = NORMAL");
  db.pragma("journal_mode = WAL");
  db.close();
  return (performance.now() - t) / 1000;
}

async function proofLatency(dir: string, leaves: number) {
  const path = join(dir, "big.db");
  const buildSeconds = await buildBigTree(path, leaves);
  const store = await openStore({ sqlitePath: path });
  let t = performance.now();
  const log = await AuditLog.open(store);
  const openMs = performance.now() - t;
  const size = log.size();
  const root = await log.root();
  const samples = 10_000;
  const inclusion: number[] = [];
  const consistency: number[] = [];
  let verified = 0;
  for (let s = 0; s < samples + 1000; s++) {
    const index = Math.floor(Math.random() * size);
    t = performance.now();
    const proof = await log.inclusionProof(index, size);
    const elapsed = performance.now() - t;
    if (s >= 1000) inclusion.push(elapsed);
    if (s % 1000 === 0) {
      const leaf = (
        await store.db
          .selectFrom("audit_entries")
          .select("leaf_hash")
          .where("idx", "=", index)
          .executeTakeFirstOrThrow()
      ).leaf_hash;
      if (verifyInclusion(leaf, index, size, proof, root)) verified++;
      else throw new Error(`inclusion proof for ${index} did not verify`);
    }
  }
  for (let s = 0; s < 3000; s++) {
    const oldSize = 1 + Math.floor(Math.random() * (size - 1));
    t = performance.now();
    const proof = await log.consistencyProof(oldSize, size);
    consistency.push(performance.now() - t);
    if (s % 500 === 0 && !verifyConsistency(oldSize, size, await log.root(oldSize), root, proof)) {
      throw new Error(`consistency proof from ${oldSize} did not verify`);
    }
  }
  // A patient's access log, first page and a page from a random point, as GET /audit/me asks:
  // the rows as the store returns them (the placeholder texts are not decoded).
  const lookups: number[] = [];
  let listed = 0;
  for (let s = 0; s < 1100; s++) {
    const patient = patientOf(Math.floor(Math.random() * PATIENTS));
    const afterIndex = s % 2 === 0 ? undefined : Math.floor(Math.random() * size);
    t = performance.now();
    const page = await patientEntries(store.db, patient, afterIndex ?? -1, 100);
    if (s >= 100) lookups.push(performance.now() - t);
    if (page.some((e) => Number(e.idx) % PATIENTS !== Number.parseInt(patient.slice(2), 16) - 0xa00000)) {
      throw new Error("a patient's lookup returned another patient's entry");
    }
    listed += page.length;
  }
  await log.stopBackground();
  await store.close();
  lookups.sort((a, b) => a - b);
  inclusion.sort((a, b) => a - b);
  consistency.sort((a, b) => a - b);
  return {
    leaves: size,
    buildSeconds: round(buildSeconds, 1),
    databaseMiB: Math.round(statSync(path).size / 2 ** 20),
    openMs: round(openMs),
    inclusionProofMs: {
      samples,
      p50: round(percentile(inclusion, 50)),
      p99: round(percentile(inclusion, 99)),
      max: round(inclusion[inclusion.length - 1] ?? NaN),
    },
    consistencyProofMs: {
      samples: consistency.length,
      p50: round(percentile(consistency, 50)),
      p99: round(percentile(consistency, 99)),
    },
    verifiedSamples: verified,
    patientLookupMs: {
      patients: PATIENTS,
      runs: Math.ceil(size / AUDIT_PATIENT_RUN),
      samples: lookups.length,
      pageSize: 100,
      meanEntriesReturned: round(listed / 1100, 1),
      p50: round(percentile(lookups, 50)),
      p99: round(percentile(lookups, 99)),
    },
  };
}

/**
 * Runs both measurements and returns them (for `bench/run.ts`).
 * @param options - `quick`: 1M leaves instead of 10M (`AUDIT_BENCH_LEAVES` overrides both)
 */
export async function runAuditProofBench(options: BenchOptions = { quick: false }): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), "carechain-audit-bench-"));
  try {
    const leaves = Number(process.env.AUDIT_BENCH_LEAVES ?? (options.quick ? 1_000_000 : 10_000_000));
    return {
      bench: "auditProof",
      engine: "sqlite",
      node: process.version,
      append: await appendThroughput(join(dir, "append.db")),
      // Same path on an in-memory SQLite: separates the CPU cost from the disk's.
      appendInMemory: await appendThroughput(":memory:"),
      proofs: await proofLatency(dir, leaves),
      targets: { appendEntriesPerSecond: 50_000, inclusionProofP50Ms: 1 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runAsScript(runAuditProofBench);
