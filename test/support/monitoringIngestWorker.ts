/**
 * The monitoring room's ingest in a process of its own, for the crash test: opens the database,
 * the audit log and the monitoring service, reads signed batches (one JSON envelope per line) from
 * stdin, ingests up to 16 at once and prints `ack <batchId> <accepted> <replayed>` for each batch
 * once its answer is ready, the way `POST /monitoring/batches` answers a device.
 *
 * Usage: node --import tsx test/support/monitoringIngestWorker.ts <db> <dataDir> <patientId> <account>
 */
import { createInterface } from "node:readline";
import { join } from "node:path";
import type { Address } from "viem";
import { AuditLog } from "../../src/audit/auditLog.js";
import { Auditor } from "../../src/audit/auditor.js";
import { ConsentGate } from "../../src/consent/consentGate.js";
import { GrantIndex } from "../../src/consent/grantIndex.js";
import { loadOrCreateLocalKeyProvider } from "../../src/crypto/keyProvider.js";
import { PatientKeyring } from "../../src/crypto/patientKeys.js";
import { MonitoringService } from "../../src/monitoring/monitoringService.js";
import { openStore } from "../../src/store/database.js";

const [db, dataDir, patientId, account] = process.argv.slice(2);
if (!db || !dataDir || !patientId || !account) {
  console.error("usage: monitoringIngestWorker <db> <dataDir> <patientId> <account>");
  process.exit(2);
}
const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
const audit = await AuditLog.open(store);
const monitoring = new MonitoringService({
  store,
  keyring: new PatientKeyring(store, loadOrCreateLocalKeyProvider(join(dataDir, "master-key"))),
  gate: new ConsentGate(new GrantIndex(), { active: () => undefined }),
  auditor: new Auditor(audit, "0x000000000000000000000000000000000000a0de"),
  patients: { accountOf: (id) => Promise.resolve(id === patientId ? (account as Address) : undefined) },
  limits: { batchesPerSecond: 10_000, readingsPerSecond: 1_000_000 },
});
process.stdout.write("ready\n");
let inFlight = 0;
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  while (inFlight >= 16) await new Promise((r) => setTimeout(r, 1));
  inFlight++;
  monitoring.ingestor
    .ingest(JSON.parse(line))
    .then((r) => process.stdout.write(`ack ${r.batchId} ${r.accepted} ${r.replayed}\n`))
    .catch((err: unknown) => process.stdout.write(`error ${(err as Error).message}\n`))
    .finally(() => inFlight--);
}
while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
await audit.flush();
await store.close();
