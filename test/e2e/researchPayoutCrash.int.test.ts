import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

const ROOT = join(import.meta.dirname, "..", "..");
const WORKER = join(ROOT, "test", "support", "researchPayoutWorker.ts");
/** As in the worker. */
const PARTICIPANTS = 12;
const REWARD = 125n;
const RUN_MS = 240_000;

interface Run {
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
  /** Resolves when a line matching `pattern` is printed; undefined when the process exits first. */
  waitFor(pattern: RegExp): Promise<string | undefined>;
  stderr(): string;
}

function worker(
  dataDir: string,
  database: string,
  mode: "setup" | "pay",
  seed: string,
  crashAt?: string,
): Run {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CARECHAIN_CRASH_AT;
  if (crashAt) env.CARECHAIN_CRASH_AT = crashAt;
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, dataDir, database, mode, seed], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    lines.push(...parts);
    for (const l of listeners) l();
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      for (const l of listeners) l();
      resolve({ code, signal });
    }),
  );
  const waitFor = (pattern: RegExp) =>
    new Promise<string | undefined>((resolve) => {
      const check = () => {
        const hit = lines.find((l) => pattern.test(l));
        if (hit !== undefined || child.exitCode !== null || child.signalCode !== null) {
          listeners.delete(check);
          resolve(hit);
        }
      };
      listeners.add(check);
      check();
    });
  return { lines, exited, kill: () => child.kill("SIGKILL"), waitFor, stderr: () => stderr };
}

/**
 * Scenario 2's payout promise: a node paying 12 accepted contributions is killed with SIGKILL in
 * the middle (at a relayer step through CARECHAIN_CRASH_AT, or by the test right after the 6th
 * payout is committed); a new process on the same data asks for the same 12 payouts again. Each
 * contribution is paid exactly once on the ledger: one ContributionPaid event each, each payout
 * address holds exactly one reward, the escrow is spent exactly 12 times, the node committed one
 * payout intent per contribution, and no outbox row failed.
 */
const CASES = [
  ["relayer:signed#4", "a payout signed, not yet broadcast"],
  ["relayer:sent#7", "a payout broadcast, not yet settled"],
  ["test", "the 6th payout committed (SIGKILL from outside)"],
] as const;

describe("research payouts with the paying node killed (SIGKILL)", () => {
  const dirs: string[] = [];
  const databases: FreshDatabase[] = [];
  afterAll(async () => {
    for (const dir of dirs) {
      stopOrphanedLedger(dir);
      rmSync(dir, { recursive: true, force: true });
    }
    for (const d of databases) await d.drop();
  });

  it.each(CASES.map(([point, what], i) => [point, what, engines[i % engines.length]!] as const))(
    "killed at %s (%s, %s): each of the 12 contributions paid exactly once",
    { timeout: 600_000 },
    async (point, _what, engine) => {
      const dir = mkdtempSync(join(tmpdir(), "carechain-payout-crash-"));
      dirs.push(dir);
      const database = engine === "postgres" ? await freshDatabase() : undefined;
      if (database) databases.push(database);
      const db = database?.url ?? "-";
      const seed = `${point}:${engine}`;

      const setup = worker(dir, db, "setup", seed);
      expect(await setup.waitFor(/^ready$/), setup.stderr()).toBe("ready");
      expect(await setup.exited).toEqual({ code: 0, signal: null });

      const first = worker(dir, db, "pay", seed, point === "test" ? undefined : point);
      if (point === "test") {
        await first.waitFor(/^intended 5$/);
        first.kill();
      }
      expect(await first.exited, first.stderr()).toEqual({ code: null, signal: "SIGKILL" });
      expect(first.lines).toContain("paid-before 0");
      expect(first.lines.some((l) => l.startsWith("report "))).toBe(false);

      const second = worker(dir, db, "pay", seed);
      const report = await second.waitFor(/^report /);
      expect(await second.exited, second.stderr()).toEqual({ code: 0, signal: null });
      // the crash came mid-way: some payouts were not yet on the ledger when the second run began
      const before = Number(second.lines.find((l) => l.startsWith("paid-before "))?.split(" ")[1]);
      expect(before).toBeLessThan(PARTICIPANTS);
      const r = JSON.parse(report!.slice("report ".length)) as {
        paidEvents: number[];
        balances: string[];
        escrowed: string;
        history: number;
        payIntents: number;
        failed: number;
      };
      expect(r.paidEvents).toEqual(Array.from({ length: PARTICIPANTS }, () => 1));
      expect(r.balances).toEqual(Array.from({ length: PARTICIPANTS }, () => String(REWARD)));
      expect(r.escrowed).toBe("0");
      expect(r.history).toBe(PARTICIPANTS);
      // one payout intent per contribution, however often it was asked for
      expect(r.payIntents).toBe(PARTICIPANTS);
      expect(r.failed).toBe(0);
    },
  );
});

/** A killed node leaves its embedded ledger running (the next start takes it over); stop it. */
function stopOrphanedLedger(dir: string): void {
  const pidFile = join(dir, "chain", "anvil.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("anvil")) process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
