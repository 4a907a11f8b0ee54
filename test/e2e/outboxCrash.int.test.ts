import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { parseAbiItem, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnvil, type Anvil } from "../../src/chain/anvil.js";
import { createChainClients, type ChainClients } from "../../src/chain/clients.js";
import { deployContracts, type Deployment } from "../../src/chain/deploy.js";
import { Outbox } from "../../src/chain/outbox.js";
import { engines, freshStore, type TestStore } from "../support/stores.js";

const INTENTS = 40;
const KILL_AFTER = 20;

interface Worker {
  child: ChildProcess;
  acks: Array<{ id: number; patient: Address }>;
  /** Resolves when the worker printed `drained` or exited. */
  exited: Promise<number | null>;
  waitForAcks(n: number): Promise<void>;
  drained(): boolean;
}

function spawnWorker(rpcUrl: string, db: string, deployment: Deployment, count: number, key: string): Worker {
  const payload = JSON.stringify({ ...deployment, blockNumber: deployment.blockNumber.toString() });
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/support/outboxWorker.ts", rpcUrl, db, payload, String(count)],
    {
      env: { ...process.env, OUTBOX_WORKER_KEY: key, OUTBOX_WORKER_PACE_MS: "15" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const acks: Worker["acks"] = [];
  let drained = false;
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const [word, id, patient] = line.split(" ");
    if (word === "ack") acks.push({ id: Number(id), patient: patient as Address });
    if (word === "drained") drained = true;
    for (const w of waiters.splice(0)) w();
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    acks,
    exited,
    drained: () => drained,
    waitForAcks: async (n) => {
      const deadline = Date.now() + 30_000;
      while (acks.length < n) {
        if (child.exitCode !== null) throw new Error(`worker exited early (${child.exitCode}): ${stderr}`);
        if (Date.now() > deadline)
          throw new Error(`worker acknowledged only ${acks.length} intents: ${stderr}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

describe.each(engines)("outbox crash safety on %s", (engine) => {
  let anvil: Anvil;
  let clients: ChainClients;
  let deployment: Deployment;
  let t: TestStore;
  const relayerKey = generatePrivateKey();

  beforeAll(async () => {
    anvil = await startAnvil();
    clients = await createChainClients(anvil.rpcUrl, privateKeyToAccount(generatePrivateKey()));
    deployment = await deployContracts(clients);
    t = await freshStore(engine);
  });
  afterAll(async () => {
    await t.dispose();
    await anvil.stop();
  });

  it("lands every acknowledged intent exactly once across a SIGKILL of the relaying process", async () => {
    const db = t.location.databaseUrl ?? t.location.sqlitePath!;
    const first = spawnWorker(anvil.rpcUrl, db, deployment, INTENTS, relayerKey);
    await first.waitForAcks(KILL_AFTER);
    first.child.kill("SIGKILL");
    await first.exited;
    const acknowledged = [...first.acks];
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(first.drained()).toBe(false);

    const outbox = new Outbox(t.store);
    const atKill = await outbox.counts();
    expect(atKill.failed).toBe(0);
    expect(atKill.pending + atKill.signed + atKill.confirmed).toBeGreaterThanOrEqual(acknowledged.length);
    const second = spawnWorker(anvil.rpcUrl, db, deployment, 0, relayerKey);
    expect(await second.exited).toBe(0);
    expect(second.drained()).toBe(true);
    expect(second.acks).toHaveLength(0);
    expect(await outbox.depth()).toBe(0);

    const counts = await outbox.counts();
    expect(counts.failed).toBe(0);
    expect(counts.confirmed).toBeGreaterThanOrEqual(acknowledged.length);
    const logs = await clients.publicClient.getLogs({
      address: deployment.participantRegistry,
      event: parseAbiItem("event PatientRegistered(address indexed account)"),
      fromBlock: deployment.blockNumber,
    });
    const perPatient = new Map<string, number>();
    for (const log of logs) perPatient.set(log.args.account!, (perPatient.get(log.args.account!) ?? 0) + 1);
    for (const { id, patient } of acknowledged) {
      expect(perPatient.get(patient), `patient of outbox id ${id}`).toBe(1);
      expect((await outbox.get(id))?.status).toBe("confirmed");
    }
    // Nothing landed that the outbox does not hold, and nothing twice.
    expect(logs).toHaveLength(counts.confirmed);
    expect([...perPatient.values()].every((n) => n === 1)).toBe(true);
  });
});
