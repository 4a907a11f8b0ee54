import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/node/logger.js";
import { publicRpcUrl, startNode } from "../../src/node/startNode.js";
import { startAnvil } from "../../src/chain/anvil.js";
import { freePort } from "../../src/chain/freePort.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";
import { runCli } from "../support/cli.js";

const silent = createLogger("silent");

describe.each(engines)("carechain start (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-node-"));
  let database: FreshDatabase | undefined;
  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  const config = () =>
    loadConfig({}, { dataDir: dir, port: 0, logLevel: "silent", databaseUrl: database?.url });

  it("deploys on first run, serves /health, and keeps chain and data across a restart", async () => {
    // (cold start is a bench figure, docs/performance.md: a timed assertion here only measures the machine's load)
    const first = await startNode(config(), { logger: silent });
    const health1 = await (await fetch(`${first.url}/health`)).json();
    expect(health1.status).toBe("ok");
    expect(health1.chain.contracts.ParticipantRegistry).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(health1.database.engine).toBe(engine);
    // a patient's verifier finds the embedded ledger from /health alone
    expect(health1.chainRpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(health1.chain.rpcUrl).toBe(health1.chainRpcUrl);
    const code = await rpc(health1.chainRpcUrl, "eth_getCode", [
      health1.chain.contracts.AuditAnchor,
      "latest",
    ]);
    expect(code.length).toBeGreaterThan(2);
    // the organization registration lands through the outbox
    await first.context.outbox.waitFor(`register-organization:${first.context.organizationId}`, 10_000);
    await first.context.indexer.syncOnce();
    const block1 = (await (await fetch(`${first.url}/health`)).json()).chain.blockNumber as number;
    const org1 = await first.context.store.db.selectFrom("organizations").selectAll().execute();
    expect(org1).toHaveLength(1);
    await first.stop();

    const second = await startNode(config(), { logger: silent });
    const health2 = await (await fetch(`${second.url}/health`)).json();
    expect(health2.chain.contracts).toEqual(health1.chain.contracts);
    expect(health2.chain.blockNumber).toBeGreaterThanOrEqual(block1);
    expect(health2.node.address).toBe(health1.node.address);
    const org2 = await second.context.store.db.selectFrom("organizations").selectAll().execute();
    expect(org2).toEqual(org1);
    await second.stop();
  });
});

describe("/health of a node on a configured ledger", () => {
  it("names the ledger's JSON-RPC URL without the credentials in its query", async () => {
    const anvil = await startAnvil();
    const dir = mkdtempSync(join(tmpdir(), "carechain-node-"));
    const node = await startNode(
      loadConfig(
        {},
        {
          dataDir: dir,
          port: 0,
          logLevel: "silent",
          chainRpcUrl: `${anvil.rpcUrl}/?apikey=secretApiKey&token=secretToken`,
        },
      ),
      { logger: silent },
    );
    try {
      const res = await fetch(`${node.url}/health`);
      const text = await res.text();
      const health = JSON.parse(text) as {
        chainRpcUrl: string;
        chain: { rpcUrl: string; embedded: boolean };
      };
      expect(health.chainRpcUrl).toBe(anvil.rpcUrl);
      expect(health.chain).toMatchObject({ rpcUrl: anvil.rpcUrl, embedded: false });
      expect(text).not.toMatch(/secret/i);
    } finally {
      await node.stop();
      await anvil.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never shows a user name or password of the URL", () => {
    expect(publicRpcUrl("https://user:pass@rpc.example.org:8545/key/abc?x=1#f")).toBe(
      "https://rpc.example.org:8545",
    );
    expect(publicRpcUrl("not a url")).toBe("(unparsable URL)");
  });
});

async function rpc(url: string, method: string, params: unknown[]): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await res.json()) as { result: string }).result;
}

describe("carechain start refuses bad settings with one line", () => {
  it("names an unreachable CHAIN_RPC_URL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carechain-bad-"));
    const port = await freePort();
    const r = await runCli(["start"], {
      CARECHAIN_DATA_DIR: dir,
      CHAIN_RPC_URL: `http://127.0.0.1:${port}`,
      PORT: "0",
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(`carechain: cannot reach CHAIN_RPC_URL http://127.0.0.1:${port}`);
  });

  it("names an unreachable DATABASE_URL without its password", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carechain-bad-"));
    const port = await freePort();
    const r = await runCli(["start"], {
      CARECHAIN_DATA_DIR: dir,
      DATABASE_URL: `postgres://u:secret@127.0.0.1:${port}/x`,
      PORT: "0",
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(
      `carechain: cannot reach PostgreSQL at postgres://u:***@127.0.0.1:${port}/x`,
    );
  });

  it("names a bad setting", async () => {
    const r = await runCli(["start"], { PORT: "99999" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^carechain: invalid configuration: PORT /);
  });
});
