import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { encodePacked, getAddress, keccak256, type Address, type Hex } from "viem";
import { anvilBinary, EMBEDDED_CHAIN_ID } from "../chain/anvil.js";
import { createChainClients, type ChainReadClients } from "../chain/clients.js";
import { freePort } from "../chain/freePort.js";
import { loadConfig, type Config } from "../config/config.js";
import { parseKeystore } from "../crypto/keystore.js";
import { BaseError } from "../errors/BaseError.js";
import { openStore, type Store } from "../store/database.js";
import { getMeta } from "../store/meta.js";

/** A node's data directory opened by its operator, without starting the node. */
export interface OperatorContext {
  config: Config;
  store: Store;
  /** The node's account (from its keystore's public address; no password needed). */
  node: Address;
  /** The node's organization id, as `carechain start` derives it. */
  organizationId: Hex;
  /** The contracts the node uses (CARECHAIN_CONTRACTS, else those it remembers). */
  chainId: number;
  auditAnchor: Address;
  close(): Promise<void>;
}

/**
 * Opens the database and key file of a node's data directory with the same configuration as
 * `carechain start` (CARECHAIN_DATA_DIR/--data-dir, DATABASE_URL, CARECHAIN_KEY_FILE). Does not
 * migrate or create anything: a directory that holds no node is refused.
 */
export async function openNodeDirectory(dataDir: string | undefined): Promise<OperatorContext> {
  const config = loadConfig(process.env, { dataDir, logLevel: "silent" });
  const sqlitePath = join(config.dataDir, "carechain.db");
  if (!existsSync(config.keyFile) || (!config.databaseUrl && !existsSync(sqlitePath))) {
    throw new BaseError("config", `no carechain node in ${config.dataDir}`, {
      details: "pass --data-dir (or CARECHAIN_DATA_DIR) of a node started with carechain start",
    });
  }
  const address = parseKeystore(readFileSync(config.keyFile, "utf8")).address;
  if (!address) throw new BaseError("config", "the node keystore does not name its address");
  const node = getAddress(`0x${address}`);
  const store = await openStore({ databaseUrl: config.databaseUrl, sqlitePath, migrate: false });
  try {
    const remembered = await getMeta(store.db, "chain.deployment");
    const stored = remembered
      ? (JSON.parse(remembered) as { chainId: number; auditAnchor: Address })
      : undefined;
    const auditAnchor = (config.contracts?.auditAnchor ?? stored?.auditAnchor) as Address | undefined;
    if (!auditAnchor || !stored) {
      throw new BaseError("config", "this node has not deployed or joined contracts yet: start it once");
    }
    return {
      config,
      store,
      node,
      organizationId: keccak256(encodePacked(["string", "address"], ["carechain.organization", node])),
      chainId: stored.chainId,
      auditAnchor,
      close: () => store.close(),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** A read-only ledger connection and where it comes from. */
export interface LedgerView extends ChainReadClients {
  source: "rpc" | "embedded-snapshot";
  close(): Promise<void>;
}

/**
 * The ledger a node's data is checked against: `--chain-rpc`, else CHAIN_RPC_URL (the node's
 * consortium network), else, for a node on the embedded ledger, a private read-only anvil loaded
 * from the embedded ledger's last state dump (`<data>/chain/state.json`, at most a second behind
 * a running node; exact for a stopped one). Refuses a ledger of another chain id.
 */
export async function openLedger(ctx: OperatorContext, chainRpc: string | undefined): Promise<LedgerView> {
  const rpc = chainRpc ?? ctx.config.chainRpcUrl;
  let stop = async (): Promise<void> => undefined;
  let clients: ChainReadClients;
  let source: LedgerView["source"] = "rpc";
  if (rpc) {
    clients = await createChainClients(rpc);
  } else {
    const stateFile = join(ctx.config.dataDir, "chain", "state.json");
    if (!existsSync(stateFile)) {
      throw new BaseError("unavailable", "no ledger to check against", {
        details: `set CHAIN_RPC_URL or --chain-rpc (no embedded ledger state in ${ctx.config.dataDir})`,
      });
    }
    const snapshot = await startSnapshot(stateFile);
    stop = snapshot.stop;
    source = "embedded-snapshot";
    try {
      clients = await createChainClients(snapshot.rpcUrl);
    } catch (error) {
      await stop();
      throw error;
    }
  }
  if (clients.chainId !== ctx.chainId) {
    await stop();
    throw new BaseError(
      "config",
      `the ledger is chain ${clients.chainId}, but this node's contracts are on chain ${ctx.chainId}`,
    );
  }
  return { ...clients, source, close: stop };
}

/** Starts anvil on a free port from a copy of the embedded state, without ever writing it back. */
async function startSnapshot(stateFile: string): Promise<{ rpcUrl: string; stop(): Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      anvilBinary(),
      [
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--chain-id",
        String(EMBEDDED_CHAIN_ID),
        "--load-state",
        stateFile,
        "--silent",
      ],
      { stdio: ["ignore", "ignore", "ignore"] },
    );
    const rpcUrl = `http://127.0.0.1:${port}`;
    if (await ready(rpcUrl, child)) return { rpcUrl, stop: () => stopChild(child) };
    await stopChild(child);
    // The running node may have been rewriting the dump at that instant: read it again.
    if (attempt >= 2)
      throw new BaseError("unavailable", "could not load the embedded ledger's state", {
        details: stateFile,
      });
  }
}

async function ready(rpcUrl: string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal: AbortSignal.timeout(1000),
      });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
