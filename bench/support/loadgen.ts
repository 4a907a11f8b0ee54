/**
 * HTTP load generator for the benches, run as its own process so it does not share the event
 * loop of the server it measures: autocannon against one URL on loopback. One child serves many
 * rounds over IPC, so a bench can interleave short rounds of two targets without paying a process
 * start per round. Use {@link startLoadGenerator} from the bench.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { isMain } from "./report.js";

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  pipelining: number;
  seconds: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; mean: number };
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  bytesPerRequest: number;
}

export interface LoadGenerator {
  /** Runs one round; rounds run one at a time. */
  run(options: LoadOptions): Promise<LoadResult>;
  /** Ends the child process. */
  close(): Promise<void>;
}

type Reply = { ok: true; result: LoadResult } | { ok: false; error: string };

/** Starts the load generator's child process. */
export function startLoadGenerator(): LoadGenerator {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let queue: Promise<unknown> = Promise.resolve();
  let exited: Error | undefined;
  const waiting = new Set<(reply: Reply) => void>();
  child.on("exit", (code) => {
    exited = new Error(`load generator exited with ${code}`);
    for (const w of waiting) w({ ok: false, error: exited.message });
  });
  const once = (options: LoadOptions) =>
    new Promise<LoadResult>((resolve, reject) => {
      if (exited) return reject(exited);
      const settle = (reply: Reply) => {
        waiting.delete(settle);
        child.off("message", settle);
        if (reply.ok) resolve(reply.result);
        else reject(new Error(reply.error));
      };
      waiting.add(settle);
      child.on("message", settle);
      child.send(options);
    });
  return {
    run(options) {
      const next = queue.then(() => once(options));
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      if (exited) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.disconnect();
      await gone;
    },
  };
}

async function main(options: LoadOptions): Promise<LoadResult> {
  const r = await autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: options.pipelining,
    duration: options.seconds,
    headers: options.headers ?? {},
  });
  return {
    // Total over the measured wall time: per-second samples would round short rounds badly.
    requestsPerSecond: Math.round(r.requests.total / Math.max(r.duration, 0.001)),
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.mean },
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    bytesPerRequest: r.requests.total > 0 ? Math.round(r.throughput.total / r.requests.total) : 0,
  };
}

if (isMain(import.meta.url) && process.send) {
  process.on("message", (options: LoadOptions) => {
    main(options).then(
      (result) => process.send?.({ ok: true, result } satisfies Reply),
      (error: unknown) => process.send?.({ ok: false, error: String(error) } satisfies Reply),
    );
  });
  // The parent disconnecting ends the child.
  process.on("disconnect", () => process.exit(0));
}
