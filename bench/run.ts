/**
 * `npm run bench [-- <name>...] [-- --quick]`: runs the benches one after another, each in its own
 * child process, and prints one JSON document `{machine, results: {<name>: ...}}` on stdout.
 * Progress goes to stderr. A bench that fails or overruns its time limit is reported as
 * `{error}` in its slot; timings are never asserted, so this never fails a build on a number.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BENCHES } from "./support/registry.js";
import { benchOptions, load, machine } from "./support/report.js";

/** Wall-clock limit per bench (the whole run is meant to stay under about 6 minutes). */
const LIMIT_MS: Record<string, number> = {
  consentDecision: 200_000,
  auditProof: 180_000,
  auditThroughput: 180_000,
  fhirRead: 120_000,
  patientSearch: 300_000,
  anchorGas: 60_000,
  monitoring: 660_000,
  passport: 120_000,
};

const args = process.argv.slice(2);
const options = benchOptions(args);
const names = args.filter((a) => !a.startsWith("--"));
for (const n of names) {
  if (!(n in BENCHES)) {
    process.stderr.write(`unknown bench ${n}; known: ${Object.keys(BENCHES).join(", ")}\n`);
    process.exit(2);
  }
}
const selected = names.length > 0 ? names : Object.keys(BENCHES);
const child = fileURLToPath(new URL("./support/child.ts", import.meta.url));

function runChild(name: string): Promise<{ result?: unknown; error?: string; seconds: number }> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  return new Promise((resolve) => {
    const proc = spawn(
      process.execPath,
      // the same V8 flags as this process (npm run bench passes the ones `carechain start` uses)
      [
        ...process.execArgv.filter((a) => a.startsWith("--max")),
        "--import",
        "tsx",
        child,
        name,
        ...(options.quick ? ["--quick"] : []),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => proc.kill("SIGKILL"), LIMIT_MS[name] ?? 180_000);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      try {
        if (code !== 0) throw new Error(signal ? `killed by ${signal} (time limit)` : `exit code ${code}`);
        resolve({ result: JSON.parse(last) as unknown, seconds: seconds() });
      } catch (error) {
        resolve({ error: error instanceof Error ? error.message : String(error), seconds: seconds() });
      }
    });
  });
}

const results: Record<string, unknown> = {};
const wall: Record<string, number> = {};
for (const name of selected) {
  process.stderr.write(`bench ${name}${options.quick ? " (quick)" : ""}: running (load ${load()})\n`);
  const { result, error, seconds } = await runChild(name);
  wall[name] = seconds;
  results[name] = error === undefined ? result : { error };
  process.stderr.write(`bench ${name}: ${error ?? "done"} in ${seconds} s\n`);
}
process.stdout.write(
  `${JSON.stringify({ machine: { ...machine(), quick: options.quick, loadAtEnd: load() }, wallSeconds: wall, results }, null, 2)}\n`,
);
