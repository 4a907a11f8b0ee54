/**
 * SQLite WAL checkpoints off the event loop. A node commits a small transaction for every batch of
 * audit entries; with SQLite's automatic checkpoints, the commit that crosses the threshold copies
 * the WAL back into the database and fsyncs both files before it returns, blocking every request
 * on the node for that time. Measured here on batches of 10 audit rows: a commit took ~135 µs on
 * average with automatic checkpoints and ~45 µs without (bench/fhirRead.ts runs the whole path).
 *
 * A worker thread with its own connection runs `wal_checkpoint(PASSIVE)` every `intervalMs`
 * instead. PASSIVE never blocks writers or readers: it copies what no reader still needs, and the
 * writer starts the WAL over once everything was copied. Durability does not change: with
 * `synchronous = NORMAL`, a commit is in the WAL (in the OS page cache) when it returns and
 * survives a process crash either way. The main connection keeps a higher automatic threshold as a
 * backstop, and goes back to SQLite's usual threshold if the worker cannot run.
 * https://www.sqlite.org/wal.html#checkpointing
 */
import type Database from "better-sqlite3";
import { startModuleWorker } from "./moduleWorker.js";
import type { WalCheckpointWorkerData } from "./walCheckpointWorker.js";

/** The usual automatic checkpoint threshold, in WAL pages (while no worker runs). */
export const FOREGROUND_CHECKPOINT_PAGES = 4000;
/**
 * The backstop threshold while the worker checkpoints (~40 MiB of WAL at 4 KiB pages). Under a
 * sustained stream of commits the WAL never starts over by itself (a writer restarts it only when
 * everything was copied, and the writer is always ahead of a PASSIVE checkpoint); the commit that
 * reaches the backstop then checkpoints on the main thread, and finds most frames already copied.
 * Measured with 4,000 producers appending audit entries: the WAL peaked at ~43 MB, the rate was
 * the same as with foreground checkpoints (40-43k vs 41k entries/s).
 */
export const BACKSTOP_CHECKPOINT_PAGES = 10_000;

export interface WalCheckpointer {
  /** Checkpoints done by the worker so far (for tests and /health). */
  readonly checkpoints: number;
  /** True while the worker runs and the main connection relies on it. */
  readonly running: boolean;
  /** Stops the worker (its connection closes); the main connection goes back to the usual threshold. */
  stop(): Promise<void>;
}

/**
 * Starts checkpointing `path` (a WAL-mode database opened by `handle`) from a worker thread.
 * @param handle - the node's main connection, whose automatic threshold is raised while the worker runs
 * @param path - the database file
 * @param intervalMs - how often the worker checkpoints (default 200 ms)
 * @returns the running checkpointer
 */
export function startWalCheckpointer(
  handle: Database.Database,
  path: string,
  intervalMs = 200,
): WalCheckpointer {
  const workerData: WalCheckpointWorkerData = { path, intervalMs };
  const worker = startModuleWorker(import.meta.url, "walCheckpointWorker", { workerData });
  // The node's own shutdown stops it; it must never keep a process alive by itself.
  worker.unref();
  let checkpoints = 0;
  let running = false;
  const fallBack = () => {
    running = false;
    if (handle.open) handle.pragma(`wal_autocheckpoint = ${FOREGROUND_CHECKPOINT_PAGES}`);
  };
  worker.on("message", (m: unknown) => {
    if (m === "ready") {
      running = true;
      handle.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
    } else if (m === "checkpoint") checkpoints++;
  });
  // A worker that fails (the file cannot be opened, an I/O error) leaves checkpoints to SQLite.
  worker.on("error", fallBack);
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  void exited.then(fallBack);
  return {
    get checkpoints() {
      return checkpoints;
    },
    get running() {
      return running;
    },
    async stop() {
      worker.postMessage("stop");
      // A worker still starting has no handler yet: end it if it does not leave by itself.
      const timeout = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
