/**
 * The WAL checkpoint worker (started by `walCheckpointer.ts`): its own connection runs
 * `wal_checkpoint(PASSIVE)` every `intervalMs` and reports each checkpoint, so the main thread can
 * tell it is alive. A busy checkpoint (another connection checkpointing) is tried again next tick.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

/** What `startWalCheckpointer` passes as `workerData`. */
export interface WalCheckpointWorkerData {
  path: string;
  intervalMs: number;
}

if (!parentPort) throw new Error("walCheckpointWorker runs as a worker thread");
const port = parentPort;
const { path, intervalMs } = workerData as WalCheckpointWorkerData;

const db = new Database(path, { fileMustExist: true });
db.pragma("busy_timeout = 0");
let stopped = false;

function checkpoint(): void {
  if (stopped) return;
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
    port.postMessage("checkpoint");
  } catch (error) {
    if (!String((error as { code?: unknown } | null)?.code).startsWith("SQLITE_BUSY")) throw error;
  }
}

const timer = setInterval(checkpoint, intervalMs);
port.on("message", (message: unknown) => {
  if (message !== "stop") return;
  stopped = true;
  clearInterval(timer);
  db.close();
  port.close();
});
port.postMessage("ready");
