/**
 * A node process reduced to its ledger plumbing, for the outbox crash test: opens the database,
 * starts a Relayer and intends `count` patient registrations (each signed by a fresh account),
 * pausing OUTBOX_WORKER_PACE_MS between intents (default 0) and printing `ack <outbox id> <patient>` right after each intent is committed. With count 0 it only
 * resumes the relayer, prints `drained` once the outbox is empty, and exits.
 *
 * Usage: node --import tsx test/support/outboxWorker.ts <rpcUrl> <db> <deployment.json> <count>
 * where <db> is a SQLite path or a postgres:// URL; the relayer key comes from OUTBOX_WORKER_KEY.
 */
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Hex } from "viem";
import { createChainClients } from "../../src/chain/clients.js";
import { addressBookOf } from "../../src/chain/contractRegistry.js";
import type { Deployment } from "../../src/chain/deploy.js";
import { PARTICIPANT_DOMAIN, PARTICIPANT_TYPES } from "../../src/chain/eip712.js";
import { Outbox } from "../../src/chain/outbox.js";
import { Relayer } from "../../src/chain/relayer.js";
import { openStore } from "../../src/store/database.js";

const [rpcUrl, db, deploymentJson, countArg] = process.argv.slice(2);
const key = process.env.OUTBOX_WORKER_KEY as Hex | undefined;
if (!rpcUrl || !db || !deploymentJson || countArg === undefined || !key) {
  console.error("usage: outboxWorker <rpcUrl> <db> <deployment.json> <count> (OUTBOX_WORKER_KEY set)");
  process.exit(2);
}
const parsed = JSON.parse(deploymentJson) as Omit<Deployment, "blockNumber"> & { blockNumber: string };
const deployment: Deployment = { ...parsed, blockNumber: BigInt(parsed.blockNumber) };
const count = Number(countArg);
const paceMs = Number(process.env.OUTBOX_WORKER_PACE_MS ?? 0);

const store = await openStore(db.startsWith("postgres") ? { databaseUrl: db } : { sqlitePath: db });
const account = privateKeyToAccount(key);
const clients = await createChainClients(rpcUrl, account);
const outbox = new Outbox(store);
const relayer = new Relayer({
  store,
  outbox,
  clients,
  account,
  contracts: addressBookOf(deployment),
  pollMs: 20,
  maxInFlight: 8,
});
relayer.start();

for (let i = 0; i < count; i++) {
  const patient = privateKeyToAccount(generatePrivateKey());
  const signature = await patient.signTypedData({
    domain: {
      ...PARTICIPANT_DOMAIN,
      chainId: deployment.chainId,
      verifyingContract: deployment.participantRegistry,
    },
    types: PARTICIPANT_TYPES,
    primaryType: "RegisterPatient",
    message: { patient: patient.address },
  });
  const { id } = await outbox.intend({
    key: `patient:${patient.address}`,
    contract: "ParticipantRegistry",
    functionName: "registerPatientBySig",
    args: [patient.address, signature],
  });
  // Writes to a pipe are synchronous on Linux: once the parent reads this line, the intent is committed.
  process.stdout.write(`ack ${id} ${patient.address}\n`);
  if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
}

while ((await outbox.depth()) > 0) await new Promise((r) => setTimeout(r, 20));
process.stdout.write("drained\n");
await relayer.stop();
await store.close();
