/**
 * Small helpers every bench shares: percentiles, rounding, the machine description and load,
 * command-line flags, and "run me when I am the entry module".
 */
import { cpus, loadavg, totalmem } from "node:os";
import { pathToFileURL } from "node:url";

/** Options every bench takes. */
export interface BenchOptions {
  /** Smaller sizes and shorter windows (`--quick`): a smoke run, not a measurement. */
  quick: boolean;
}

/** Rounds to `digits` decimals. */
export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** The p-th percentile (0..100) of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Latency summary in milliseconds of unsorted samples. */
export function latencySummary(samples: number[]): {
  samples: number;
  p50: number;
  p99: number;
  max: number;
} {
  const sorted = Float64Array.from(samples).sort();
  return {
    samples: sorted.length,
    p50: round(percentile(sorted, 50), 3),
    p99: round(percentile(sorted, 99), 3),
    max: round(sorted[sorted.length - 1] ?? NaN, 3),
  };
}

/** What the numbers were measured on. */
export function machine(): { cpus: number; cpuModel: string; memGiB: number; node: string; date: string } {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** The 1-minute load average: above the core count, other processes share the cores being measured. */
export const load = (): number => round(loadavg()[0] ?? NaN);

/** Parses `--quick` from argv. */
export function benchOptions(argv: readonly string[] = process.argv.slice(2)): BenchOptions {
  return { quick: argv.includes("--quick") };
}

/** True when `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && moduleUrl === pathToFileURL(entry).href;
}

/** Runs a bench as a script: prints its JSON on stdout. */
export async function runAsScript(run: (o: BenchOptions) => Promise<object>): Promise<void> {
  const result = await run(benchOptions());
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
