import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/chain/freePort.js";
import { writeKeystoreFile } from "../../src/crypto/keystore.js";
import { openStore } from "../../src/store/database.js";
import { signIn } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

/**
 * A newcomer runs `carechain start --demo` and stops it (or it crashes) at some moment of its first
 * run: while the contracts are deployed, while its organization is registered, while the demo is
 * seeded. Whatever that moment, the next start must become healthy with the complete demo. Each
 * point below is one such moment: the first start SIGKILLs itself there (CARECHAIN_CRASH_AT, see
 * src/config/crashPoint.ts), then a second start on the same data directory must finish the job.
 * Points alternate between SQLite and PostgreSQL when TEST_DATABASE_URL is set.
 *
 * Both starts must seed without a failed ledger write. The seeding intends the clinic's
 * registration and, at once, a practitioner of that clinic; the ledger answers the first
 * transaction before it mines it, so the relayer may simulate the second on a block without the
 * clinic. A revert counts only once repeated on a block holding every transaction sent before
 * (docs/first-run.md, "Ledger writes that depend on each other"); the points after the
 * practitioners' registration are where a spurious one showed. A first start whose seeding fails
 * before its point fails the test at once, with its log line.
 */
const POINTS = [
  // deploying the contracts
  "deploy:sent#1",
  "deploy:sent#4",
  // CareCredit and StudyEscrow sent, CareCredit's MINTER_ROLE grant to the deployer not yet
  "deploy:sent#7",
  "deploy:mined",
  "deploy:remembered",
  // registering the node's own organization
  "registration-intended",
  "relayer:signed#1",
  "relayer:sent#1",
  "listening",
  // seeding the demo
  "seed:planned",
  "seed:accounts-written",
  "seed:own-registration-confirmed",
  "seed:clinic-intended",
  "seed:practitioner-intended#1",
  "relayer:signed#2",
  "seed:practitioners-confirmed",
  "seed:practitioners-indexed",
  "seed:patient-imported#1",
  "seed:patient-imported#2",
  "seed:grant-intended",
  "seed:grant-confirmed",
];

const ROOT = join(import.meta.dirname, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures", "synthea");
/** A watchdog only: a start on a loaded machine may take minutes; on two free cores, seconds. */
const RUN_MS = 240_000;
/** Two nodes at a time: the suite runs on two cores. */
const PARALLEL = 2;
const KEY_PASSWORD = "first-run-crash-test";

interface DemoAccountsFile {
  accounts: Array<{ role: string; address: Hex; privateKey: Hex; patientId?: string }>;
}

interface Run {
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log message matching, or rejects when the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

interface DataDir {
  dir: string;
  database: FreshDatabase | undefined;
  env: NodeJS.ProcessEnv;
}

const dirs: DataDir[] = [];
let slots = PARALLEL;
const queue: Array<() => void> = [];

async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (slots === 0) await new Promise<void>((resolve) => queue.push(resolve));
  else slots--;
  try {
    return await fn();
  } finally {
    const next = queue.shift();
    if (next) next();
    else slots++;
  }
}

/**
 * A new data directory. Its node key is made here with a cheap scrypt cost: a node start reads
 * it twice per point, and at the default cost that alone would take a tenth of the suite's time.
 */
async function dataDir(engine: "sqlite" | "postgres"): Promise<DataDir> {
  const dir = mkdtempSync(join(tmpdir(), "carechain-firstrun-"));
  await writeKeystoreFile(join(dir, "node-key.json"), generatePrivateKey(), KEY_PASSWORD, { n: 2 ** 10 });
  const database = engine === "postgres" ? await freshDatabase() : undefined;
  const d: DataDir = {
    dir,
    database,
    env: { CARECHAIN_KEY_PASSWORD: KEY_PASSWORD, ...(database ? { DATABASE_URL: database.url } : {}) },
  };
  dirs.push(d);
  return d;
}

/** `carechain start --demo` as a real process, its JSON log lines collected. */
function start(d: DataDir, port: number, crashAt?: string): Run {
  // CARECHAIN_DEBUG: an unexpected error's stack is in the lines a failure shows
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "info", CARECHAIN_DEBUG: "1", ...d.env };
  delete env.CARECHAIN_CRASH_AT;
  if (crashAt) env.CARECHAIN_CRASH_AT = crashAt;
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "carechain.js"), "--data-dir", d.dir, "start", "--demo", "--port", String(port)],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = "";
  const collect = (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const line of parts) lines.push(messageOf(line));
    for (const l of listeners) l();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      for (const l of listeners) l();
      resolve({ code, signal });
    }),
  );
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
  void exited.then(() => clearTimeout(timer));
  const waitFor = (pattern: RegExp, timeoutMs = RUN_MS) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const hit = lines.find((l) => pattern.test(l));
        if (hit !== undefined) return done(() => resolve(hit));
        if (child.exitCode !== null || child.signalCode !== null)
          return done(() => reject(new Error(`exited before ${pattern}: ${lines.slice(-5).join(" | ")}`)));
      };
      const t = setTimeout(
        () => done(() => reject(new Error(`no ${pattern} in time: ${lines.slice(-5).join(" | ")}`))),
        timeoutMs,
      );
      const done = (f: () => void) => {
        clearTimeout(t);
        listeners.delete(check);
        f();
      };
      listeners.add(check);
      check();
    });
  return { child, lines, exited, waitFor };
}

function messageOf(line: string): string {
  try {
    const j = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    return [j.msg, j.err?.message].filter(Boolean).join(": ");
  } catch {
    return line;
  }
}

const SEEDED = /^demo data seeded/;
const SEED_FAILED = /^demo seeding failed|^carechain: /;
const SETTLED = new RegExp(`${SEEDED.source}|${SEED_FAILED.source}`);

/** The second start: healthy, the demo complete, then a clean stop on SIGTERM. */
async function restartAndCheck(d: DataDir, port: number): Promise<void> {
  const run = start(d, port);
  try {
    const outcome = await run.waitFor(SETTLED);
    expect(outcome, run.lines.slice(-8).join(" | ")).toMatch(SEEDED);
    await expectCompleteDemo(d, `http://127.0.0.1:${port}`);
  } finally {
    if (run.child.exitCode === null) run.child.kill("SIGTERM");
  }
  expect(await run.exited).toEqual({ code: 0, signal: null });
}

/** Every demo organization, practitioner, patient, record and the demo consent, through the API and the database. */
async function expectCompleteDemo(d: DataDir, url: string): Promise<void> {
  const health = (await (await fetch(`${url}/health`)).json()) as {
    status: string;
    chainRpcUrl: string;
    node: { address: string };
  };
  expect(health.status).toBe("ok");
  const { accounts } = JSON.parse(
    readFileSync(join(d.dir, "demo-accounts.json"), "utf8"),
  ) as DemoAccountsFile;
  const gp = accounts.find((a) => a.role.startsWith("GP"))!;
  const physician = accounts.find((a) => a.role === "hospital physician")!;
  const patients = accounts.filter((a) => a.role === "patient");
  const bundles = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map(
      (f) =>
        JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as {
          entry: Array<{ resource: { resourceType: string; id: string } }>;
        },
    );
  expect(patients).toHaveLength(bundles.length);

  const store = await openStore({
    ...(d.database ? { databaseUrl: d.database.url } : { sqlitePath: join(d.dir, "carechain.db") }),
    migrate: false,
  });
  try {
    const orgs = await store.db.selectFrom("organizations").select(["id", "name", "node_address"]).execute();
    const own = orgs.find((o) => o.node_address.toLowerCase() === health.node.address.toLowerCase());
    const clinic = orgs.find((o) => o.name === "Demo GP Clinic");
    expect(own).toBeDefined();
    expect(clinic).toBeDefined();
    const practitioners = await store.db
      .selectFrom("practitioners")
      .select(["account", "org_id"])
      .where("active", "=", 1)
      .execute();
    const memberOf = (account: string) =>
      practitioners.filter((p) => p.account.toLowerCase() === account.toLowerCase()).map((p) => p.org_id);
    expect(memberOf(gp.address)).toEqual([clinic!.id]);
    expect(memberOf(physician.address)).toEqual([own!.id]);
    // every record of every bundle, each imported once (no second version from a resumed import)
    const stored = await store.db.selectFrom("resources").select(["type", "id", "version_id"]).execute();
    const versions = new Map(stored.map((r) => [`${r.type}/${r.id}`, r.version_id]));
    for (const bundle of bundles)
      for (const { resource } of bundle.entry)
        expect(versions.get(`${resource.resourceType}/${resource.id}`)).toBe(1);
    const failed = await store.db
      .selectFrom("outbox")
      .select("idem_key")
      .where("status", "=", "failed")
      .execute();
    expect(failed).toEqual([]);
  } finally {
    await store.close();
  }

  // each demo patient reads their own record; the GP reads patient 1's labs under the demo consent
  for (const patient of patients) {
    const session = await signIn(url, privateKeyToAccount(patient.privateKey));
    expect((await session.get(`/fhir/Patient/${patient.patientId}`)).status).toBe(200);
  }
  const gpSession = await signIn(url, privateKeyToAccount(gp.privateKey));
  const labs = await gpSession.get(
    `/fhir/Observation?patient=${patients[0]!.patientId}&category=laboratory&_count=1`,
    "TREAT",
  );
  expect(labs.status).toBe(200);
  expect(((await labs.json()) as { entry?: unknown[] }).entry?.length).toBe(1);
  const hospital = await signIn(url, privateKeyToAccount(physician.privateKey));
  expect((await hospital.get(`/fhir/Patient/${patients[1]!.patientId}`, "TREAT")).status).toBe(200);
}

describe.concurrent(
  "a first `carechain start --demo` stopped at any moment restarts with the complete demo",
  () => {
    afterAll(async () => {
      for (const d of dirs) {
        stopOrphanedLedger(d.dir);
        rmSync(d.dir, { recursive: true, force: true });
        await d.database?.drop();
      }
    });

    it.each(POINTS.map((point, i) => [point, engines[i % engines.length]!] as const))(
      "SIGKILL at %s (%s)",
      { timeout: 600_000 },
      async (point, engine) =>
        withSlot(async () => {
          const d = await dataDir(engine);
          const port = await freePort();
          const first = start(d, port, point);
          // undefined: the process exited (killed at the point) before seeding finished or failed
          const outcome = await first.waitFor(SETTLED).catch(() => undefined);
          if (outcome !== undefined) first.child.kill("SIGKILL");
          expect(outcome, "the first start ended its seeding instead of reaching the point").toBeUndefined();
          expect(await first.exited, first.lines.slice(-8).join(" | ")).toEqual({
            code: null,
            signal: "SIGKILL",
          });
          await restartAndCheck(d, port);
        }),
    );

    it.each([
      ["SIGTERM", /^demo seeding: importing/] as const,
      ["SIGINT", /^demo seeding: registering/] as const,
    ])(
      "%s while seeding stops cleanly, and the next start completes the demo",
      { timeout: 600_000 },
      async (signal, when) =>
        withSlot(async () => {
          const d = await dataDir(engines[engines.length - 1]!);
          const port = await freePort();
          const first = start(d, port);
          await first.waitFor(when);
          first.child.kill(signal);
          expect(await first.exited).toEqual({ code: 0, signal: null });
          expect(first.lines).toContain("demo seeding stopped with the node; it resumes on the next start");
          expect(first.lines.some((l) => SEEDED.test(l))).toBe(false);
          await restartAndCheck(d, port);
        }),
    );
  },
);

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
