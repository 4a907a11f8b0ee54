import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, parseAbiItem, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/chain/freePort.js";
import {
  buildGrantMessage,
  signGrant,
  signedGrantToJson,
  type ConsentDomain,
} from "../../src/consent/signConsent.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** Starts `carechain start` as a real child process and waits for /health. */
async function startNodeProcess(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, "bin", "carechain.js"), "start"], {
    cwd: ROOT,
    env: {
      ...process.env,
      CARECHAIN_DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: "warn",
      ANCHOR_INTERVAL_MS: "500",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node exited (${child.exitCode}): ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node did not start: ${stderr}`);
}

function stop(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

/**
 * The outbox promise, on the real node: consents acknowledged over HTTP (202) while the node is
 * SIGKILLed mid-flight are all on the ledger exactly once after a restart — with the embedded
 * ledger, whose orphaned anvil the restarted node takes over.
 */
describe("a node killed with SIGKILL", () => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-crash-"));
  let node: ChildProcess | undefined;
  afterAll(async () => {
    await stop(node, "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("lands every acknowledged consent exactly once after restart", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    node = await startNodeProcess(dir, port);
    const domain = (await (await fetch(`${url}/consents/domain`)).json()) as ConsentDomain;
    const grantee = privateKeyToAccount(generatePrivateKey()).address;

    // prepare signed grants first, so submitting is fast enough to race the kill
    const signed = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const patient = privateKeyToAccount(generatePrivateKey());
        const message = buildGrantMessage({
          patient: patient.address,
          grantee: { kind: "practitioner", account: grantee },
          categories: ["labs"],
          purposes: ["TREAT"],
          actions: ["read"],
          notBefore: 0,
          notAfter: Math.floor(Date.now() / 1000) + 86_400,
        });
        return signedGrantToJson(message, await signGrant(patient, domain, message));
      }),
    );

    const acknowledged: Hex[] = [];
    let killed = false;
    for (const body of signed) {
      if (acknowledged.length === 25 && !killed) {
        node.kill("SIGKILL");
        killed = true;
        await new Promise<void>((r) => node!.once("exit", () => r()));
        break;
      }
      const res = await fetch(`${url}/consents`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (res.status === 202 || res.status === 201) acknowledged.push((await res.json()).grantId);
      else throw new Error(`unexpected ${res.status}: ${await res.text()}`);
    }
    expect(killed).toBe(true);
    expect(acknowledged).toHaveLength(25);

    node = await startNodeProcess(dir, port);
    const deadline = Date.now() + 30_000;
    let health: { outbox: { depth: number }; chain: { contracts: Record<string, Address> } } | undefined;
    while (Date.now() < deadline) {
      health = await (await fetch(`${url}/health`)).json();
      if (health!.outbox.depth === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(health!.outbox.depth).toBe(0);

    // read the ledger directly through the embedded anvil's RPC (the node keeps its port in anvil.pid's cmdline)
    const rpcPort = await anvilPortOf(dir);
    const client = createPublicClient({ transport: http(`http://127.0.0.1:${rpcPort}`) });
    const logs = await client.getLogs({
      address: health!.chain.contracts.ConsentRegistry,
      event: parseAbiItem("event ConsentGranted(bytes32 indexed grantId, address indexed patient)"),
      fromBlock: 0n,
      toBlock: "latest",
    });
    const counts = new Map<string, number>();
    for (const log of logs)
      counts.set(log.args.grantId!.toLowerCase(), (counts.get(log.args.grantId!.toLowerCase()) ?? 0) + 1);
    for (const id of acknowledged) expect(counts.get(id.toLowerCase())).toBe(1);
    expect(logs.length).toBe(acknowledged.length);
  });
});

/** The embedded ledger's port, from the command line of the anvil process named in anvil.pid. */
async function anvilPortOf(dataDir: string): Promise<number> {
  const { readFileSync } = await import("node:fs");
  const pid = readFileSync(join(dataDir, "chain", "anvil.pid"), "utf8").trim();
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  return Number(args[args.indexOf("--port") + 1]);
}
