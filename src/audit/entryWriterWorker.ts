/**
 * The audit log's writing thread (started by `entryWriter.ts`). On a SQLite connection of its own
 * it turns a packed batch of entry texts (`EntryBatch`) into rows: each text's RFC 9162 leaf hash,
 * the subtrees the leaf completes on the tree's right edge, then the rows and the openings in one
 * transaction. It
 * replies with the new right edge, or with the error (nothing written then). Batches are taken
 * one at a time, in the order they were posted; each continues from the edge the one before left,
 * unless it brings the edge itself. After a failure every batch is refused until one brings it.
 * It also writes the steps of the deferred patient index and the chunks of patient-map persists,
 * between the batches.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { indexAuditPatientsSync, writeAuditRowsSync, writePatientMapChunkSync } from "../store/auditRows.js";
import { BACKSTOP_CHECKPOINT_PAGES } from "../store/walCheckpointer.js";
import { batchRows, type EntryBatch } from "./entryBatch.js";
import {
  REFUSED,
  type EntryWriterData,
  type IndexStep,
  type MapChunk,
  type WriterReply,
} from "./entryWriter.js";
import { ownedEdgeNode, type EdgeNode } from "./serverHash.js";

if (!parentPort) throw new Error("entryWriterWorker runs as a worker thread");
const port = parentPort;
const { path } = workerData as EntryWriterData;

const db = new Database(path, { fileMustExist: true });
// As the store's own connection (src/store/database.ts): a commit is durable against a process
// crash once it is in the WAL. Checkpoints are the checkpoint worker's; this is only a backstop.
db.pragma("synchronous = NORMAL");
db.pragma("busy_timeout = 5000");
db.pragma("cache_size = -16384");
db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);

/** The right edge after the last batch written, and the index the next batch must start at. */
let frontier: EdgeNode[] | undefined;
let next = 0;

/** What SQLite threw, as the reply carries it. */
function failure(error: unknown): WriterReply {
  const e = error as { message?: unknown; code?: unknown } | null;
  return {
    error: {
      message: typeof e?.message === "string" ? e.message : String(error),
      ...(typeof e?.code === "string" ? { code: e.code } : {}),
    },
  };
}

function write(batch: EntryBatch): WriterReply {
  if (batch.frontier !== undefined) {
    frontier = batch.frontier;
    next = batch.firstIndex;
  }
  // After a failure, or out of order, only a batch that starts over from the log's edge is taken.
  if (frontier === undefined || batch.firstIndex !== next) {
    return { error: { message: "batch refused: an earlier batch failed", code: REFUSED } };
  }
  const { rows, openings, frontier: after } = batchRows(batch, frontier);
  try {
    writeAuditRowsSync(db, rows, openings);
  } catch (error) {
    frontier = undefined;
    return failure(error);
  }
  frontier = after;
  next = batch.firstIndex + rows.length;
  return { frontier: after.map(ownedEdgeNode) };
}

function index(step: IndexStep): WriterReply {
  try {
    indexAuditPatientsSync(db, step.indexFrom, step.indexTo, step.pairs);
  } catch (error) {
    return failure(error);
  }
  return { indexed: true };
}

function persistMap(chunk: MapChunk): WriterReply {
  try {
    writePatientMapChunkSync(db, chunk.mapRows, chunk.mapSize);
  } catch (error) {
    return failure(error);
  }
  return { mapped: true };
}

port.on("message", (message: EntryBatch | IndexStep | MapChunk | "stop") => {
  if (message === "stop") {
    db.close();
    port.close();
    return;
  }
  port.postMessage(
    "lengths" in message ? write(message) : "mapRows" in message ? persistMap(message) : index(message),
  );
});
