import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/chain/freePort.js";

const ROOT = join(import.meta.dirname, "..", "..");
const DIST = pathToFileURL(join(ROOT, "dist")).href;

/**
 * A module hook that writes every module URL the process resolves to `log`: what the process ran,
 * seen from inside it (the entry, each import, and any loader it registered).
 */
function resolveProbe(log: string): string {
  const hooks = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, result.url + "\\n");
  return result;
}`;
  const register = `
import { register } from "node:module";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the production entry (bin/carechain.js)", () => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-compiled-"));
  let node: ChildProcess | undefined;
  afterAll(async () => {
    if (node && node.exitCode === null && node.signalCode === null) {
      const exited = new Promise((r) => node!.once("exit", r));
      node.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a demo node from compiled JavaScript in dist/, without tsx", async () => {
    const port = await freePort();
    const modules = join(dir, "modules.log");
    const dataDir = join(dir, "data");
    node = spawn(
      process.execPath,
      ["--import", resolveProbe(modules), join(ROOT, "bin", "carechain.js"), "start", "--demo"],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          CARECHAIN_DATA_DIR: dataDir,
          PORT: String(port),
          HOST: "127.0.0.1",
          LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    node.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const started = Date.now();
    await until(
      "/health",
      async () => {
        if (node!.exitCode !== null) throw new Error(`node exited (${node!.exitCode}): ${stderr}`);
        const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      60_000,
    );
    console.log(`compiled node healthy after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const resolved = readFileSync(modules, "utf8").trim().split("\n");
    expect(resolved).toContain(`${DIST}/cli/main.js`);
    expect(resolved).toContain(`${DIST}/node/startNode.js`);
    expect(resolved.filter((url) => url.endsWith(".ts"))).toEqual([]);
    expect(resolved.filter((url) => url.includes("/node_modules/tsx/"))).toEqual([]);
    expect(readFileSync(`/proc/${node.pid}/cmdline`, "utf8")).not.toContain("tsx");

    // The demo seed reads the Synthea fixtures by a path relative to its compiled module.
    const accounts = await until(
      "the demo seed",
      () => {
        const file = join(dataDir, "demo-accounts.json");
        return existsSync(file)
          ? (JSON.parse(readFileSync(file, "utf8")) as { accounts: { role: string; patientId?: string }[] })
          : undefined;
      },
      60_000,
    );
    expect(accounts.accounts.filter((a) => a.role === "patient" && a.patientId).length).toBeGreaterThan(0);
  }, 150_000);

  it("checkpoints the WAL from the compiled worker file next to the compiled store", async () => {
    const { openStore } = (await import(
      `${DIST}/store/database.js`
    )) as typeof import("../../src/store/database.js");
    const store = await openStore({ sqlitePath: join(dir, "wal.db"), backgroundCheckpoints: true });
    try {
      const checkpointer = store.walCheckpointer!;
      await until("the worker", () => (checkpointer.running ? true : undefined), 15_000);
      await until("a checkpoint", () => (checkpointer.checkpoints > 0 ? true : undefined), 15_000);
    } finally {
      await store.close();
    }
  });
});
