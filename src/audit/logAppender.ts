/**
 * The audit log's append path (src/audit/auditLog.ts holds the rest): it owns the tree's right
 * edge and size, prepares each batch (patient links, sealed facts, canonical texts, packed), and
 * writes it on this thread or posts it to the writing thread (src/audit/entryWriter.ts), several
 * batches in flight at once. A batch the thread did not commit is appended again after the edge
 * is reloaded from the database, which also places it after another process's appends.
 */
import { insertAuditEntries } from "../store/auditRows.js";
import type { Store } from "../store/database.js";
import { isUniqueViolation } from "../store/uniqueViolation.js";
import { BaseError } from "../errors/BaseError.js";
import { patientKey, type AuditEntry } from "./auditEntry.js";
import { loadFrontier } from "./auditStore.js";
import { BatchPacker, batchRows, firstText, type EntryBatch } from "./entryBatch.js";
import { readEntry } from "./entryReader.js";
import { sealFacts } from "./entrySealer.js";
import { EntryWriterGone, REFUSED, type EntryWriter } from "./entryWriter.js";
import type { PatientIndexer } from "./patientIndex.js";
import type { PatientBatch } from "./patientMap.js";
import type { LivePatientMap } from "./patientMapLive.js";
import { replayPatients } from "./patientMapReplay.js";
import type { EdgeNode } from "./serverHash.js";

/** Batches of fewer entries are written here even with a writing thread (only heavy load fills batches). */
export const THREAD_FROM = 256;

/** Where an appended batch went: its first index and the log's size after it. */
export interface AppendResult {
  firstIndex: number;
  size: number;
}

/** A batch posted to the writing thread. */
interface InFlight {
  firstIndex: number;
  count: number;
  /** The first entry's text: how a batch whose outcome the thread never told is recognized. */
  first: string;
  reply: Promise<EdgeNode[]>;
}

/** What the append path shares with the log. */
export interface LogAppenderParts {
  store: Store;
  /** The log's size and right edge as loaded. */
  size: number;
  frontier: EdgeNode[];
  patientMap: LivePatientMap;
  patientIndex: PatientIndexer;
  /** The first index from which entries carry patient links (store migration 014). */
  chainsFrom: number;
  /** The writing thread, when the log has one. */
  writer: EntryWriter | undefined;
  now: () => number;
}

export class LogAppender {
  private frontier: EdgeNode[];
  private treeSize: number;
  /** Settles once every append started so far has settled. */
  private lock: Promise<unknown> = Promise.resolve();
  /** Batches are prepared and posted one after the other. */
  private posting: Promise<unknown> = Promise.resolve();
  /** Batches posted to the writing thread and not yet back, oldest first. */
  private inFlight: InFlight[] = [];
  /** Set from a failed batch until the log's edge is reloaded. */
  private recovery: Promise<void> | undefined;
  private writer: EntryWriter | undefined;
  private readonly store: Store;
  private readonly patientMap: LivePatientMap;
  private readonly patientIndex: PatientIndexer;
  private readonly chainsFrom: number;
  private readonly now: () => number;
  /** Whether entries get patient links (off only to measure their cost, bench/auditThroughput.ts). */
  chains = true;

  constructor(parts: LogAppenderParts) {
    this.store = parts.store;
    this.treeSize = parts.size;
    this.frontier = parts.frontier;
    this.patientMap = parts.patientMap;
    this.patientIndex = parts.patientIndex;
    this.chainsFrom = parts.chainsFrom;
    this.writer = parts.writer;
    this.now = parts.now;
  }

  /** Number of committed entries. */
  size(): number {
    return this.treeSize;
  }

  /** The right edge of the committed tree. */
  edge(): readonly EdgeNode[] {
    return this.frontier;
  }

  /** Resolves once every append started so far has settled. */
  settled(): Promise<unknown> {
    return this.lock;
  }

  /** The writing thread while it takes batches. */
  runningWriter(): EntryWriter | undefined {
    return this.writer?.running === true ? this.writer : undefined;
  }

  /** Stops the writing thread once what was posted to it is written; later appends are written here. */
  async stopWriter(): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    await writer?.stop();
  }

  /**
   * Appends validated entries after everything appended before, in one transaction.
   * @returns the index of the first entry and the log's size after them, once committed
   */
  append(entries: readonly AuditEntry[]): Promise<AppendResult> {
    return this.appendAttempt(entries, 0);
  }

  private appendAttempt(entries: readonly AuditEntry[], attempt: number): Promise<AppendResult> {
    const patients = entries.map((e) => (e.patient === undefined ? null : patientKey(e.patient)));
    const posted = this.posting.then(() => this.post(entries, patients, attempt));
    this.posting = posted.catch(() => undefined);
    const done = posted.then((p) => p.done);
    const settled = (): Promise<unknown> => done.catch(() => undefined);
    this.lock = this.lock.then(settled);
    return done;
  }

  /**
   * Prepares and posts one batch after the batches posted before it: with a writing thread, it is
   * posted while earlier ones are still being written (their patient links are in flight, see
   * `PatientBatch`); without, it is written here once everything in flight is back.
   * @returns once posted: `done`, which settles when the batch is committed or has failed
   */
  private async post(
    entries: readonly AuditEntry[],
    patients: Array<string | null>,
    attempt: number,
  ): Promise<{ done: Promise<AppendResult> }> {
    while (this.recovery !== undefined) await this.recovery;
    const writer = this.runningWriter();
    // A small batch costs less here than a message to the thread and back, and a commit from
    // another connection would empty the node's cache of current rows (src/store/currentRowCache.ts).
    if (writer === undefined || entries.length < THREAD_FROM) {
      await this.drain();
      return { done: Promise.resolve(await this.appendHere(entries, patients)) };
    }
    let firstIndex = this.treeSize;
    for (const f of this.inFlight) firstIndex += f.count;
    const { batch, links } = this.prepare(entries, patients, firstIndex);
    // The first batch after none in flight brings the edge: the thread may have failed since.
    const reply = writer.write(this.inFlight.length === 0 ? { ...batch, frontier: this.frontier } : batch);
    const f: InFlight = { firstIndex, count: entries.length, first: firstText(batch), reply };
    this.inFlight.push(f);
    const done = reply.then(
      (frontier) => {
        if (this.inFlight[0] !== f) throw new BaseError("internal", "audit batches committed out of order");
        this.inFlight.shift();
        return this.advance(firstIndex, patients, links, frontier);
      },
      (error: unknown) => this.retry(f, links, entries, attempt, error),
    );
    return { done };
  }

  /** A batch the writing thread did not commit: fails it, or appends it again after a reload. */
  private async retry(
    f: InFlight,
    links: PatientBatch | undefined,
    entries: readonly AuditEntry[],
    attempt: number,
    error: unknown,
  ): Promise<AppendResult> {
    links?.discard();
    this.inFlight.splice(this.inFlight.indexOf(f), 1);
    // Every batch posted after this one comes back refused (or gone): the edge is reloaded once.
    this.recovery ??= this.recover();
    await this.recovery;
    const gone = error instanceof EntryWriterGone;
    // The thread ended without saying whether it committed: the reload counted it if it did.
    if (gone && (await readEntry(this.store.db, f.firstIndex))?.text === f.first) {
      return { firstIndex: f.firstIndex, size: f.firstIndex + f.count };
    }
    const again = gone || (error as { code?: unknown } | null)?.code === REFUSED;
    if (attempt < 3 && (again || isUniqueViolation(this.store.dialect, error))) {
      return await this.appendAttempt(entries, attempt + 1);
    }
    throw new BaseError("unavailable", "audit append failed", { cause: error });
  }

  /** Once every batch in flight is back: the log's edge and patient map as the database has them. */
  private async recover(): Promise<void> {
    try {
      await Promise.allSettled(this.inFlight.map((f) => f.reply));
      await this.reload();
      this.writer = this.runningWriter();
    } finally {
      this.recovery = undefined;
    }
  }

  /** Resolves once nothing is in flight on the writing thread. */
  private async drain(): Promise<void> {
    while (this.inFlight.length > 0 || this.recovery !== undefined) {
      await Promise.allSettled(this.inFlight.map((f) => f.reply));
      if (this.recovery !== undefined) await this.recovery;
    }
  }

  /** Appends a batch on this thread (no writing thread, or PostgreSQL), nothing being in flight. */
  private async appendHere(
    entries: readonly AuditEntry[],
    patients: Array<string | null>,
  ): Promise<AppendResult> {
    for (let attempt = 0; ; attempt++) {
      const { batch, links } = this.prepare(entries, patients, this.treeSize);
      let frontier: EdgeNode[];
      try {
        const rows = batchRows(batch, this.frontier);
        await insertAuditEntries(this.store, rows.rows, rows.openings);
        frontier = rows.frontier;
      } catch (cause) {
        links?.discard();
        if (attempt < 3 && isUniqueViolation(this.store.dialect, cause)) {
          // Another process appended to this database: place the batch after its entries.
          await this.reload();
          continue;
        }
        throw new BaseError("unavailable", "audit append failed", { cause });
      }
      return this.advance(batch.firstIndex, patients, links, frontier);
    }
  }

  /** A batch's texts and openings, packed, and its patient links, for entries from `firstIndex`. */
  private prepare(
    entries: readonly AuditEntry[],
    patients: Array<string | null>,
    firstIndex: number,
  ): { batch: EntryBatch; links: PatientBatch | undefined } {
    // Each entry about a patient links to the patient's previous entry, inside its hashed text.
    const links = this.chains ? this.patientMap.batch() : undefined;
    const packer = new BatchPacker(firstIndex, this.now(), entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as AuditEntry;
      const patient = patients[i] ?? null;
      const prev = patient === null || links === undefined ? undefined : links.link(patient, firstIndex + i);
      // Version 2: a patient's categories and reasons only as a commitment, opened apart.
      const sealed = patient === null ? null : sealFacts(e, firstIndex + i);
      if (sealed !== null) packer.opening(sealed.opening);
      packer.entry(e, prev, sealed?.commitment ?? null, patient);
    }
    return { batch: packer.finish(), links };
  }

  /** Takes a committed batch (entries from `firstIndex`, about `patients`) into the log's state. */
  private advance(
    firstIndex: number,
    patients: Array<string | null>,
    links: PatientBatch | undefined,
    frontier: EdgeNode[],
  ): AppendResult {
    this.frontier = frontier;
    this.treeSize = firstIndex + patients.length;
    links?.apply();
    if (patients.length > 0) this.patientIndex.appended(this.treeSize, { first: firstIndex, patients });
    return { firstIndex, size: this.treeSize };
  }

  /** Reloads the log's edge from the database and replays the entries appended since into the map. */
  private async reload(): Promise<void> {
    const fresh = await loadFrontier(this.store.db);
    await replayPatients(this.store, this.patientMap, Math.max(this.treeSize, this.chainsFrom), fresh.size);
    this.treeSize = fresh.size;
    this.frontier = fresh.frontier;
    this.patientIndex.appended(this.treeSize);
  }
}
