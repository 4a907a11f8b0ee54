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
import type { AuditEntryTable, AuditOpeningTable } from "../store/schema.js";
import { ownedEdgeNode, prefixedLeafHash, pushLeaf, type EdgeNode } from "./serverHash.js";

/** What the worker is started with. */
export interface EntryWriterData {
  /** The SQLite file the store opened. */
  path: string;
}

/**
 * One batch of entries `firstIndex...`, packed into a few flat values: posting it to the writing
 * thread copies a handful of strings and arrays instead of thousands of strings and objects, which
 * cost the event loop more than the rest of an append. `packBatch` builds it, `batchRows` opens it.
 */
export interface EntryBatch {
  firstIndex: number;
  createdAt: number;
  /**
   * Each entry's canonical text preceded by a NUL, in order, cut into chunks of at most
   * {@link CHUNK_CHARS} characters (or one text, if longer): a string past ~128 KB is allocated
   * page by page outside V8's young generation, which costs more than the join itself. A
   * canonical text holds no raw NUL (JSON escapes control characters), and `"\0" + text` is
   * exactly its RFC 9162 leaf-hash input.
   */
  texts: string[];
  /** Each text's length in UTF-16 code units. */
  lengths: Int32Array;
  /** Each entry's patient key ("" for none), joined by NULs (keys are addresses and opaque ids). */
  patients: string;
  /** The openings: each one's entry as an offset from `firstIndex`, its salt, and its text. */
  openings: { at: Int32Array; salts: string; facts: string };
  /**
   * The tree's right edge before the batch. The writing thread needs it only for a batch that
   * starts over (the first, or the first after a failure); the others continue from the last.
   */
  frontier?: EdgeNode[];
}

/** Salts are 32 hex digits (entrySealer.ts). */
const SALT_DIGITS = 32;
/** Most characters of one chunk of a packed batch's texts. */
const CHUNK_CHARS = 48 * 1024;

/**
 * Packs a batch for the writing thread (or for `batchRows` here).
 * @param texts - the entries' canonical texts, in index order
 * @param patients - each entry's patient key, or null
 * @param openings - the openings of the entries' commitments, in index order
 */
export function packBatch(
  firstIndex: number,
  createdAt: number,
  texts: readonly string[],
  patients: ReadonlyArray<string | null>,
  openings: readonly AuditOpeningTable[],
): EntryBatch {
  const n = texts.length;
  const lengths = new Int32Array(n);
  const chunks: string[] = [];
  const keys: string[] = new Array(n);
  let parts: string[] = [""];
  let chars = 0;
  for (let i = 0; i < n; i++) {
    const text = texts[i] as string;
    if (chars > 0 && chars + text.length > CHUNK_CHARS) {
      chunks.push(parts.join("\0"));
      parts = [""];
      chars = 0;
    }
    lengths[i] = text.length;
    parts.push(text);
    chars += text.length + 1;
    keys[i] = patients[i] ?? "";
  }
  if (chars > 0) chunks.push(parts.join("\0"));
  const at = new Int32Array(openings.length);
  const salts: string[] = new Array(openings.length);
  const facts: string[] = new Array(openings.length);
  for (let i = 0; i < openings.length; i++) {
    const o = openings[i] as AuditOpeningTable;
    at[i] = o.idx - firstIndex;
    salts[i] = o.salt;
    facts[i] = o.facts;
  }
  return {
    firstIndex,
    createdAt,
    texts: chunks,
    lengths,
    patients: keys.join("\0"),
    openings: { at, salts: salts.join(""), facts: facts.join("\0") },
  };
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

/**
 * A batch's rows: each text's RFC 9162 leaf hash and the subtrees it completes on the right edge,
 * and its openings.
 * @param frontier - the right edge before the batch (not changed)
 * @returns the rows, the openings, and the right edge after them
 */
export function batchRows(
  batch: EntryBatch,
  frontier: readonly EdgeNode[],
): { rows: AuditEntryTable[]; openings: AuditOpeningTable[]; frontier: EdgeNode[] } {
  const edge = frontier.slice();
  const { lengths } = batch;
  const patients = batch.patients.split("\0");
  const rows: AuditEntryTable[] = new Array(lengths.length);
  let chunk = 0;
  let texts = batch.texts[0] ?? "";
  for (let i = 0, at = 0; i < lengths.length; i++) {
    if (at === texts.length) {
      texts = batch.texts[++chunk] as string;
      at = 0;
    }
    const end = at + 1 + (lengths[i] as number);
    const idx = batch.firstIndex + i;
    // The text with the NUL before it is the leaf input: hashed without a copy.
    const leaf = prefixedLeafHash(texts.slice(at, end));
    const completed = pushLeaf(edge, idx, leaf);
    rows[i] = {
      idx,
      entry: texts.slice(at + 1, end),
      leaf_hash: leaf,
      patient: patients[i] || null,
      created_at: batch.createdAt,
      subtrees: completed.length === 0 ? null : Buffer.concat(completed),
    };
    at = end;
  }
  const o = batch.openings;
  const facts = o.at.length === 0 ? [] : o.facts.split("\0");
  const openings: AuditOpeningTable[] = new Array(o.at.length);
  for (let i = 0; i < o.at.length; i++) {
    openings[i] = {
      idx: batch.firstIndex + (o.at[i] as number),
      salt: o.salts.slice(i * SALT_DIGITS, (i + 1) * SALT_DIGITS),
      facts: facts[i] as string,
    };
  }
  return { rows, openings, frontier: edge };
}

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
