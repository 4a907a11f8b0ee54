import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BaseError } from "../errors/BaseError.js";
import { freePort } from "./freePort.js";

/** Chain id of the embedded ledger. */
export const EMBEDDED_CHAIN_ID = 31337;

export interface AnvilOptions {
  /** Directory for `state.json` and `anvil.pid`; omit for a throwaway in-memory chain. */
  dataDir?: string | undefined;
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number | undefined;
  /** Seconds between state dumps while running (the tail since the last dump is lost on a crash). */
  stateInterval?: number | undefined;
  /** Seconds per block; automine (one block per transaction) when omitted. */
  blockTime?: number | undefined;
  chainId?: number | undefined;
}

export interface Anvil {
  readonly rpcUrl: string;
  readonly port: number;
  readonly pid: number;
  /** Stops anvil gracefully (it dumps its state first when persisted) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Path of the anvil binary shipped in the npm package `@foundry-rs/anvil-<os>-<arch>`. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const os = process.platform;
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const pkg = `@foundry-rs/anvil-${os}-${arch}`;
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${pkg}/package.json`);
  } catch (cause) {
    throw new BaseError("config", `the embedded ledger needs the npm package ${pkg}; run npm ci`, { cause });
  }
  const bin = join(dirname(pkgJson), "bin", os === "win32" ? "anvil.exe" : "anvil");
  if (!existsSync(bin)) throw new BaseError("config", `anvil binary missing at ${bin}; run npm ci`);
  return bin;
}

/**
 * Starts the embedded ledger: anvil on 127.0.0.1 with zero gas price (like a permissioned
 * QBFT network with `min-gas-price=0`), its state persisted in `dataDir/state.json` so a
 * restart restores the chain. A stale anvil left by a killed node (found by `anvil.pid`) is
 * stopped first so its state is dumped and reused.
 */
export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const port = options.port ?? (await freePort());
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--chain-id",
    String(options.chainId ?? EMBEDDED_CHAIN_ID),
    "--base-fee",
    "0",
    "--gas-price",
    "0",
    "--disable-min-priority-fee",
    "--silent",
  ];
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime));
  let pidFile: string | undefined;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    pidFile = join(options.dataDir, "anvil.pid");
    await stopStale(pidFile);
    args.push(
      "--state",
      join(options.dataDir, "state.json"),
      "--state-interval",
      String(options.stateInterval ?? 1),
    );
  }
  const child = spawn(anvilBinary(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new BaseError("unavailable", "could not start the embedded ledger (anvil)");
  if (pidFile) writeFileSync(pidFile, String(pid));
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(rpcUrl, child, () => stderr);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    rpcUrl,
    port,
    pid,
    stop: async () => {
      await stopChild(child);
      if (pidFile) rmSync(pidFile, { force: true });
    },
  };
}

async function waitUntilReady(rpcUrl: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new BaseError("unavailable", `the embedded ledger (anvil) exited with code ${child.exitCode}`, {
        details: stderr().trim() || undefined,
      });
    }
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal: AbortSignal.timeout(1000),
      });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new BaseError("timeout", "the embedded ledger (anvil) did not become ready within 15 s");
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

async function stopStale(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !isAnvil(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isAnvil(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("anvil");
  } catch {
    return false;
  }
}
