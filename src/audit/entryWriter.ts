/**
 * Audit appends written from a thread of their own (`entryWriterWorker.ts`), for a node on a SQLite
 * file. The event loop keeps what needs the log's state (checks, patient chains, sealing, the
 * canonical text); the thread hashes the texts into the tree and runs the insert, the two costliest
 * steps of an append, on its own connection. An append still resolves only once its batch is
 * committed. docs/architecture.md ("Audit appends on a writing thread") says why.
 */
import type { Worker } from "node:worker_threads";
import { startModuleWorker } from "../store/moduleWorker.js";
import type { AuditPatientMapRow, AuditPatientPair } from "../store/auditRows.js";
import type { EntryBatch } from "./entryBatch.js";
import { ownedEdgeNode, type EdgeNode } from "./serverHash.js";

/** What the worker is started with. */
export interface EntryWriterData {
  /** The SQLite file the store opened. */
  path: string;
}

/** The error code of a batch the writing thread refused because one before it failed. */
export const REFUSED = "CARECHAIN_BATCH_REFUSED";

/** A step of the deferred patient index (src/audit/patientIndex.ts), written on the thread. */
export interface IndexStep {
  indexFrom: number;
  indexTo: number;
  /** The range's (patient, idx) pairs when known; else the thread reads them. */
  pairs?: AuditPatientPair[];
}

/** One transaction of a patient-map persist (src/audit/patientMapPersister.ts), written on the thread. */
export interface MapChunk {
  mapRows: AuditPatientMapRow[];
  /** With the last chunk: the persisted size it raises. */
  mapSize?: number;
}

/** What the thread answers: the right edge after a batch, a step or chunk done, or what SQLite threw (nothing written). */
export type WriterReply =
  | { frontier: EdgeNode[] }
  | { indexed: true }
  | { mapped: true }
  | { error: { message: string; code?: string } };

/** The writing thread is gone (it failed or was stopped) with a batch whose outcome it never told. */
export class EntryWriterGone extends Error {}

interface Waiting {
  resolve(reply: WriterReply): void;
  reject(error: unknown): void;
}

export class EntryWriter {
  #worker: Worker | undefined;
  readonly #waiting: Waiting[] = [];
  readonly #exited: Promise<void>;
  #stopping = false;

  /** @param path - the store's SQLite file */
  constructor(path: string) {
    const workerData: EntryWriterData = { path };
    const worker = startModuleWorker(import.meta.url, "entryWriterWorker", { workerData });
    // The log's owner stops it; it must never keep a process alive by itself.
    worker.unref();
    worker.on("message", (reply: WriterReply) => {
      const w = this.#waiting.shift();
      if (w === undefined) return;
      if ("error" in reply)
        w.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      else w.resolve(reply);
    });
    const gone = () => this.#drop();
    worker.on("error", gone);
    worker.on("messageerror", gone);
    this.#exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    void this.#exited.then(gone);
    this.#worker = worker;
  }

  /** True while the thread takes batches. */
  get running(): boolean {
    return this.#worker !== undefined && !this.#stopping;
  }

  /**
   * Hashes and inserts one batch on the thread. Batches may be posted before the earlier ones
   * are written; replies come in order.
   * @returns the tree's right edge after it, once committed
   * @throws the database's error or one with code {@link REFUSED} (nothing written), or
   *   EntryWriterGone (outcome unknown)
   */
  async write(batch: EntryBatch): Promise<EdgeNode[]> {
    const frontier = batch.frontier?.map(ownedEdgeNode);
    const reply = await this.#post({ ...batch, ...(frontier === undefined ? {} : { frontier }) });
    if (!("frontier" in reply))
      throw new Error("the audit writing thread answered a batch with something else");
    return reply.frontier;
  }

  /**
   * Writes one step of the deferred patient index on the thread, after the batches posted before.
   * @throws the database's error (nothing written), or EntryWriterGone
   */
  async index(step: IndexStep): Promise<void> {
    const reply = await this.#post(step);
    if (!("indexed" in reply))
      throw new Error("the audit writing thread answered an index step with something else");
  }

  /**
   * Writes one transaction of a patient-map persist on the thread, after what was posted before.
   * @throws the database's error (nothing written), or EntryWriterGone
   */
  async persistMapChunk(chunk: MapChunk): Promise<void> {
    const reply = await this.#post(chunk);
    if (!("mapped" in reply))
      throw new Error("the audit writing thread answered a map chunk with something else");
  }

  #post(message: EntryBatch | IndexStep | MapChunk): Promise<WriterReply> {
    const worker = this.#worker;
    if (worker === undefined || this.#stopping)
      return Promise.reject(new EntryWriterGone("audit writing thread stopped"));
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      worker.postMessage(message);
    });
  }

  /** Stops the thread once the batches posted so far are written; resolves when it has exited. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#stopping = true;
    worker.postMessage("stop");
    // A thread still starting has no handler yet: end it if it does not leave by itself.
    const timeout = setTimeout(() => void worker.terminate(), 5000);
    await this.#exited;
    clearTimeout(timeout);
  }

  /**
   * Ends the thread at once, whatever it is doing, as a crash would (tests of what that leaves):
   * batches it has not answered fail with EntryWriterGone.
   */
  async terminate(): Promise<void> {
    await this.#worker?.terminate();
    await this.#exited;
  }

  #drop(): void {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) {
      worker.removeAllListeners("message");
      // An error after this point has no listener left to take it.
      worker.on("error", () => undefined);
    }
    for (const w of this.#waiting.splice(0)) {
      w.reject(new EntryWriterGone("audit writing thread stopped"));
    }
  }
}
