/**
 * A node reduced to its records room, for the write/audit crash test: opens the database, the
 * audit log and the records repository, runs one operation as the node's own job and exits. With
 * CARECHAIN_CRASH_AT naming a crash point (src/records/crashPoint.ts), the operation kills the
 * process with SIGKILL at that point.
 *
 * Usage: node --import tsx test/support/recordWriteWorker.ts <db> <dataDir> <seed|update|erase> <account>
 * where <db> is a SQLite path or a postgres:// URL, <dataDir> holds the master key and <account>
 * is the patient's.
 *   seed   - imports Patient/crash-p (linked to <account>) and Condition/crash-c
 *   update - writes version 2 of Condition/crash-c
 *   erase  - crypto-shreds Patient/crash-p
 */
import { join } from "node:path";
import type { Address } from "viem";
import { systemPrincipal } from "../../src/model/principal.js";
import { AuditLog } from "../../src/audit/auditLog.js";
import { Auditor } from "../../src/audit/auditor.js";
import { ConsentGate } from "../../src/consent/consentGate.js";
import { loadGrantIndex } from "../../src/consent/grantStore.js";
import { loadOrCreateLocalKeyProvider } from "../../src/crypto/keyProvider.js";
import { PatientKeyring } from "../../src/crypto/patientKeys.js";
import { EventBus } from "../../src/events/eventBus.js";
import { BlindIndex } from "../../src/records/blindIndex.js";
import { RecordRepository } from "../../src/records/repository.js";
import { openStore } from "../../src/store/database.js";

const NODE = "0x000000000000000000000000000000000000a0de" as Address;
const ORG = `0x${"0c".repeat(32)}` as const;

const [db, dataDir, op, account] = process.argv.slice(2);
if (!db || !dataDir || !op || !account) {
  console.error("usage: recordWriteWorker <db> <dataDir> <seed|update|erase> <account>");
  process.exit(2);
}
const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
const audit = await AuditLog.open(store);
const keyring = new PatientKeyring(store, loadOrCreateLocalKeyProvider(join(dataDir, "master-key")));
const auditor = new Auditor(audit, NODE);
const records = new RecordRepository({
  store,
  keyring,
  // the worker writes as the node's own job: no practitioner, so no break-glass session applies
  gate: new ConsentGate(await loadGrantIndex(store.db), { active: () => undefined }),
  auditor,
  blind: new BlindIndex(new Uint8Array(32).fill(7)),
  events: new EventBus(),
  organizationId: ORG,
});
const job = systemPrincipal(`crash-${op}`);
const condition = (recordedDate: string) => ({
  resourceType: "Condition",
  id: "crash-c",
  code: { coding: [{ system: "http://snomed.info/sct", code: "38341003" }] },
  subject: { reference: "Patient/crash-p" },
  recordedDate,
});
if (op === "seed") {
  await records.importBundle(
    job,
    {
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          resource: { resourceType: "Patient", id: "crash-p" },
          request: { method: "PUT", url: "Patient/crash-p" },
        },
        { resource: condition("2024-01-01"), request: { method: "PUT", url: "Condition/crash-c" } },
      ],
    },
    { patientAccount: account as Address },
  );
} else if (op === "update") {
  await records.update(job, "Condition", "crash-c", condition("2024-02-02"));
} else if (op === "erase") {
  await records.erasePatient(job, "crash-p");
}
await audit.stopBackground();
await store.close();
console.log("done");
