/**
 * The node's append-only audit log: entries stored with their RFC 9162 leaf hashes and the hash of
 * every complete subtree, so appends are O(log n) amortized and roots and proofs for any size need
 * O(log n) reads. The right edge of the tree (the frontier) is kept in memory; a new `AuditLog`
 * on the same database reloads it. One writer at a time per process; a second process appending
 * to the same database is detected by the primary key and the batch is retried on fresh state.
 */
import { bytesToHex, type Hex } from "viem";
import { indexAuditPatients, writePatientMapChunk } from "../store/auditRows.js";
import { getMeta } from "../store/meta.js";
import { AUDIT_CHAINS_FROM } from "../store/migrations/014_audit_patient_chains.js";
import type { Store } from "../store/database.js";
import type { TreeHeadStatus } from "../store/schema.js";
import { BaseError } from "../errors/BaseError.js";
import { AppendBatcher } from "./appendBatcher.js";
import { certainlyValidEntry, parseAuditEntry, patientKey, type AuditEntry } from "./auditEntry.js";
import { dbNodeSource, loadFrontier } from "./auditStore.js";
import { EntryWriter } from "./entryWriter.js";
import { buildConsistencyProof } from "./consistencyProof.js";
import { buildInclusionProof } from "./inclusionProof.js";
import { EMPTY_ROOT } from "./merkleHash.js";
import {
  patientEntryIndexes,
  readEntries,
  readEntriesContaining,
  readEntry,
  type EntryQuery,
  type StoredAuditEntry,
} from "./entryReader.js";
import { LogAppender, THREAD_FROM, type AppendResult } from "./logAppender.js";
import { indexedUpTo, PatientIndexer } from "./patientIndex.js";
import { PatientMap } from "./patientMap.js";
import type { LivePatientMap } from "./patientMapLive.js";
import { PatientMapPersister } from "./patientMapPersister.js";
import { loadPatientMap, replayPatients, type LoadedPatientMap } from "./patientMapReplay.js";
import type { PatientMapProof } from "./patientMapProof.js";
import type { EdgeNode } from "./serverHash.js";
import { foldSubtrees, frontierOf, type NodeSource } from "./subtrees.js";
import { signTreeHead, type SignedTreeHead, type TreeHeadDomain, type TreeHeadSigner } from "./treeHead.js";
import {
  insertTreeHead,
  latestTreeHead,
  listTreeHeads,
  markTreeHeadAnchored,
  type StoredTreeHead,
  type TreeHeadQuery,
} from "./treeHeadStore.js";
import { verifyStoredLog, type Anchor, type VerifyResult } from "./verifyLog.js";
import { verifyPatientChains } from "./verifyPatientChains.js";

const DEFAULT_MAX_BATCH = 1024;
/** Batches in flight at once with a writing thread: one being written, the next ones posted. */
const WRITES_IN_FLIGHT = 3;

export interface AuditLogOptions {
  /**
   * Most entries `enqueue` groups into one transaction (default 1024). Batches are only this big
   * under heavy load; a big one amortizes the commit, which on SQLite costs about one page write
   * per index page the batch touches.
   */
  maxBatch?: number;
  /** How long `enqueue` waits for company before writing (default 0: the next event-loop turn). */
  flushDelayMs?: number;
  /** Clock in milliseconds, for `created_at` and tree-head timestamps. */
  now?: () => number;
  /**
   * How long after an append its patient pairs are copied into the deferred patient index
   * (default 500 ms). Lookups by patient are complete at any time; this only bounds the tail they scan.
   */
  patientIndexDelayMs?: number;
  /**
   * Least time between two persists of the patient map (default 10 s): a start replays the entries
   * since the last persist, and a persist upserts the rows of every patient changed since the one
   * before, so this trades start time against write load. The first anchor after opening always
   * persists.
   */
  patientMapPersistMs?: number;
  /**
   * Patients changed between two tree heads from which the patient map's tree is built on a
   * worker thread instead of the main one (default 4096; `Infinity`: never). src/audit/patientMapLive.ts
   */
  patientMapWorkerFrom?: number;
  /**
   * Hash and insert batches on a writing thread with its own connection (src/audit/entryWriter.ts;
   * SQLite files only, default false). The node turns it on; short-lived commands write here.
   */
  writeOnThread?: boolean;
}

export type { EntryQuery, StoredAuditEntry } from "./entryReader.js";
export type { AppendResult } from "./logAppender.js";

export class AuditLog {
  private readonly source: NodeSource;
  private readonly batcher: AppendBatcher<AuditEntry>;
  private readonly now: () => number;
  private readonly patientIndex: PatientIndexer;
  private readonly patientMap: LivePatientMap;
  private readonly persister: PatientMapPersister;
  private readonly appender: LogAppender;

  private constructor(
    private readonly store: Store,
    treeSize: number,
    frontier: EdgeNode[],
    loaded: LoadedPatientMap,
    private readonly chainsFrom: number,
    options: AuditLogOptions,
  ) {
    this.patientMap = loaded.map;
    this.source = dbNodeSource(store.db);
    this.now = options.now ?? Date.now;
    this.persister = new PatientMapPersister(
      store,
      loaded.map,
      loaded.persistedSize,
      options.patientMapPersistMs ?? 10_000,
      // On the writing thread while it runs, one transaction between two batches.
      (rows, sizeIfLast) => {
        const writer = this.appender.runningWriter();
        if (writer === undefined) return writePatientMapChunk(store, rows, sizeIfLast);
        return writer.persistMapChunk({
          mapRows: rows,
          ...(sizeIfLast === undefined ? {} : { mapSize: sizeIfLast }),
        });
      },
    );
    this.patientIndex = new PatientIndexer(store, {
      ...(options.patientIndexDelayMs === undefined ? {} : { delayMs: options.patientIndexDelayMs }),
      // On the writing thread while it runs, in order with the batches.
      write: (from, to, known) => {
        const writer = this.appender.runningWriter();
        if (writer === undefined) return indexAuditPatients(store, from, to, known);
        return writer.index({
          indexFrom: from,
          indexTo: to,
          ...(known === undefined ? {} : { pairs: known }),
        });
      },
    });
    const file = store.sqlite;
    const writer =
      options.writeOnThread === true && file !== undefined && !file.memory
        ? new EntryWriter(file.name)
        : undefined;
    this.appender = new LogAppender({
      store,
      size: treeSize,
      frontier,
      patientMap: loaded.map,
      patientIndex: this.patientIndex,
      chainsFrom,
      writer,
      now: this.now,
    });
    this.batcher = new AppendBatcher((items) => this.appender.append(items).then((r) => r.firstIndex), {
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      ...(options.flushDelayMs === undefined ? {} : { delayMs: options.flushDelayMs }),
      // With a writing thread, the next batch is prepared while the thread writes the last.
      concurrency: writer === undefined ? 1 : WRITES_IN_FLIGHT,
      concurrentFrom: THREAD_FROM,
    });
  }

  /**
   * Opens the log stored in `store`, loading its right edge with O(log n) reads.
   * @param store - a migrated store
   * @param options - batching and clock
   * @returns the log, ready to append
   */
  static async open(store: Store, options: AuditLogOptions = {}): Promise<AuditLog> {
    const { size, frontier } = await loadFrontier(store.db);
    const chainsFrom = Number((await getMeta(store.db, AUDIT_CHAINS_FROM)) ?? 0);
    const loaded = await loadPatientMap(
      store,
      chainsFrom,
      size,
      options.patientMapWorkerFrom === undefined ? {} : { workerFrom: options.patientMapWorkerFrom },
    );
    const log = new AuditLog(store, size, frontier, loaded, chainsFrom, options);
    // Entries appended before a restart and not yet indexed: catch up in the background.
    if ((await indexedUpTo(store.db)) < size) log.patientIndex.appended(size);
    return log;
  }

  /**
   * Turns the completeness commitment (patient chains and map) off or on, for measuring its cost
   * side by side (bench/auditThroughput.ts). Entries appended while it is off are outside every
   * patient's chain, so a node never turns it off.
   */
  setPatientChainsForBench(on: boolean): void {
    this.appender.chains = on;
  }

  /** True while the patient map's trees are built on its worker thread (bench/auditThroughput.ts). */
  patientMapOnWorker(): boolean {
    return this.patientMap.onWorker;
  }

  /** True while batches are hashed and written on the writing thread (bench/auditThroughput.ts). */
  writesOnThread(): boolean {
    return this.appender.runningWriter() !== undefined;
  }

  /** Number of entries in the log. */
  size(): number {
    return this.appender.size();
  }

  /**
   * The Merkle tree hash of the first `size` entries (default: all), from O(log n) stored subtrees.
   * @param size - a tree size up to `size()`
   * @returns 32 bytes. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
   */
  async root(size: number = this.size()): Promise<Uint8Array> {
    this.checkSize(size, "tree size");
    if (size === 0) return EMPTY_ROOT;
    if (size === this.size()) return foldSubtrees(this.appender.edge().map((n) => n.hash));
    return foldSubtrees(await this.source.nodes(frontierOf(size)));
  }

  /**
   * Appends entries in one transaction.
   * @param entries - entries (validated again here)
   * @returns the index of the first entry and the new size
   * @throws BaseError("invalid") for an invalid entry (nothing is appended)
   */
  async append(entries: readonly AuditEntry[]): Promise<AppendResult> {
    return await this.appender.append(entries.map((e) => parseAuditEntry(e)));
  }

  /**
   * Queues one entry for the next batched append; concurrent calls share a transaction.
   * @param entry - the entry
   * @returns its index, once committed
   */
  enqueue(entry: AuditEntry): Promise<number> {
    try {
      // Entries are built by the layers themselves: the fast check passes them, the schema judges the rest.
      return this.batcher.push(certainlyValidEntry(entry) ? entry : parseAuditEntry(entry));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Resolves once every entry queued so far is committed (or failed). */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /**
   * One stored entry.
   * @param index - its index
   * @returns the entry, or undefined when there is none at that index
   */
  entry(index: number): Promise<StoredAuditEntry | undefined> {
    return readEntry(this.store.db, index);
  }

  /**
   * Entries in index order, optionally only a patient's, for access logs. A patient's lookup uses
   * the deferred patient index plus a scan of the entries not indexed yet: complete as soon as
   * their append resolved.
   * @param query - patient, paging cursor and limit
   * @returns the entries
   */
  entries(query: EntryQuery = {}): Promise<StoredAuditEntry[]> {
    return readEntries(this.store.db, query);
  }

  /**
   * Entries in `(afterIndex, throughIndex]` whose stored text contains one of `needles`, in index
   * order: a scan in the database for rare markers (an intent's reason), without decoding every
   * entry here.
   * @param needles - exact substrings of the canonical text (no `%`, `_` or `\\`)
   */
  entriesContaining(
    needles: readonly string[],
    range: { afterIndex: number; throughIndex: number },
    limit: number,
  ): Promise<StoredAuditEntry[]> {
    return readEntriesContaining(this.store.db, needles, range, limit);
  }

  /**
   * The indexes of every committed entry about any of `patients` (addresses or pseudonymous ids),
   * whose openings an erasure deletes.
   */
  async patientEntryIndexes(patients: readonly string[]): Promise<number[]> {
    await this.flush();
    await this.appender.settled();
    const all = new Set<number>();
    for (const p of patients) for (const i of await patientEntryIndexes(this.store.db, p)) all.add(i);
    return [...all].sort((a, b) => a - b);
  }

  /** Brings the deferred patient index up to the current size now (it otherwise follows on a timer). */
  async indexPatients(): Promise<void> {
    await this.flush();
    await this.appender.settled();
    this.patientIndex.appended(this.size());
    await this.patientIndex.catchUp();
  }

  /**
   * Stops the patient index's timer, the patient map's worker thread and the writing thread; call
   * before closing the store. Appends and tree heads stay possible (then all on this thread).
   */
  async stopBackground(): Promise<void> {
    this.patientIndex.stop();
    this.patientMap.stop();
    await this.appender.stopWriter();
  }

  /**
   * The inclusion proof of entry `index` in the tree of `treeSize` entries, from O(log n) reads.
   * @param index - the entry's index
   * @param treeSize - size of the tree (default: current size)
   * @returns the audit path. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1
   */
  async inclusionProof(index: number, treeSize: number = this.size()): Promise<Uint8Array[]> {
    this.checkSize(treeSize, "tree size");
    if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) {
      throw new BaseError("invalid", "leaf index out of range", {
        details: `index ${index}, tree size ${treeSize}`,
      });
    }
    return await buildInclusionProof(this.source, index, treeSize);
  }

  /**
   * The consistency proof between sizes `oldSize` and `newSize`, from O(log n) reads.
   * @param oldSize - the earlier size, at least 1
   * @param newSize - the later size (default: current size)
   * @returns the proof. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1
   */
  async consistencyProof(oldSize: number, newSize: number = this.size()): Promise<Uint8Array[]> {
    this.checkSize(newSize, "new tree size");
    if (!Number.isSafeInteger(oldSize) || oldSize < 1 || oldSize > newSize) {
      throw new BaseError("invalid", "old tree size out of range", {
        details: `old ${oldSize}, new ${newSize}`,
      });
    }
    return await buildConsistencyProof(this.source, oldSize, newSize);
  }

  /**
   * Recomputes the whole log from the stored entry text and checks it against the stored tree,
   * the anchored roots and the consistency between anchors; then recomputes every patient's `prev`
   * chain and the patient map from the entry texts and checks the stored patient column, the
   * persisted map and every stored and anchored map root against them.
   * @param anchors - anchored roots (for instance from `anchoredHeads()`)
   * @returns ok, or the first divergent entry index and why
   */
  async verifyAll(anchors: readonly Anchor[]): Promise<VerifyResult> {
    await this.flush();
    await this.appender.settled();
    // Appends after this point only add rows past the snapshot size, which is all that is checked.
    const size = this.size();
    const log = await verifyStoredLog(this.store.db, this.source, size, anchors);
    if (!log.ok) return log;
    const maps = anchors.flatMap((a) =>
      a.mapRoot === undefined ? [] : [{ treeSize: a.treeSize, mapRoot: a.mapRoot }],
    );
    return await verifyPatientChains(this.store, size, Math.min(this.chainsFrom, size), maps);
  }

  /**
   * Signs the current tree head and records it with status `signed`.
   * @param signer - the node's account
   * @param domain - chain id and AuditAnchor address
   * @returns the signed head. https://eips.ethereum.org/EIPS/eip-712
   */
  async createTreeHead(signer: TreeHeadSigner, domain: TreeHeadDomain): Promise<SignedTreeHead> {
    await this.flush();
    await this.appender.settled();
    // No await between reading the size and committing the map's version: they describe one state.
    // The root may come from the patient map's worker thread a moment later.
    const treeSize = this.size();
    const mapRoot = await (this.patientMap.root(treeSize) ?? this.patientMap.commit(treeSize));
    const latest = await this.latestTreeHead();
    if (latest !== undefined && latest.treeSize === treeSize && latest.node === signer.address) return latest;
    const root = await this.root(treeSize);
    // The timestamp comes from what is committed (the last entry's time, never earlier than the
    // last head's), so a head re-derived after a crash is the same head, signature included
    // (RFC 6979 signatures are deterministic).
    const lastEntry = treeSize === 0 ? undefined : await this.entry(treeSize - 1);
    const timestamp = Math.max(latest?.timestamp ?? 0, Math.floor((lastEntry?.createdAt ?? 0) / 1000));
    const head = await signTreeHead(
      signer,
      { treeSize, rootHash: bytesToHex(root), mapRoot, timestamp },
      domain,
    );
    await this.recordTreeHead(head);
    return head;
  }

  /**
   * The patient map's root at `size`, for the sizes of recent tree heads.
   * @param size - a tree size a head was signed at
   * @returns the root, or undefined when that version is not kept
   */
  mapRoot(size: number): Hex | undefined {
    return this.patientMap.rootAt(size);
  }

  /**
   * The patient map's root at `size`: the kept version's, or else rebuilt from the stored log
   * (a scan of the entries about patients below `size`).
   * @param size - a tree size up to `size()`
   * @returns the root
   */
  async patientMapRootAt(size: number): Promise<Hex> {
    this.checkSize(size, "tree size");
    const kept = this.patientMap.root(size);
    if (kept !== undefined) return await kept;
    const map = new PatientMap();
    await replayPatients(this.store, map, Math.min(this.chainsFrom, size), size);
    return map.commit(size);
  }

  /**
   * The proof of a patient's (last entry, count) in the patient map at `size`.
   * @param patient - address or pseudonymous id
   * @param size - a tree size a head was signed at (normally the latest anchored one)
   * @returns the proof, or undefined when that version is not kept. docs/audit-completeness.md
   */
  patientMapProof(patient: string, size: number): PatientMapProof | undefined {
    return this.patientMap.prove(patientKey(patient), size);
  }

  /**
   * Records a signed head after checking that its root is this log's root at its size.
   * @param head - a signed head
   * @throws BaseError("conflict") when the root differs from the log's
   */
  async recordTreeHead(head: SignedTreeHead): Promise<void> {
    const root = await this.root(head.treeSize);
    const mapRoot = this.patientMap.rootAt(head.treeSize);
    if (
      bytesToHex(root) !== head.rootHash.toLowerCase() ||
      (mapRoot !== undefined && mapRoot !== head.mapRoot.toLowerCase())
    ) {
      throw new BaseError("conflict", "tree head root is not this log's root", {
        details: `tree size ${head.treeSize}`,
      });
    }
    await insertTreeHead(this.store.db, head, this.now());
  }

  /** Marks the head of `treeSize` anchored in `block` (by transaction `tx`). */
  async markAnchored(treeSize: number, block: number, tx?: Hex): Promise<void> {
    await markTreeHeadAnchored(this.store.db, treeSize, block, tx);
    this.patientMap.anchored(treeSize, this.persister.persistedSize);
    this.persister.anchored(treeSize);
  }

  /** Resolves once the patient map persists started so far are done (for tests and shutdown). */
  patientMapPersisted(): Promise<number | undefined> {
    return this.persister.settled();
  }

  /** Recorded heads by ascending tree size. */
  treeHeads(query: TreeHeadQuery = {}): Promise<StoredTreeHead[]> {
    return listTreeHeads(this.store.db, query);
  }

  /** The head with the largest tree size, optionally of one status. */
  latestTreeHead(status?: TreeHeadStatus): Promise<StoredTreeHead | undefined> {
    return latestTreeHead(this.store.db, status);
  }

  private checkSize(size: number, what: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size()) {
      throw new BaseError("invalid", `${what} out of range`, { details: `${size} of ${this.size()}` });
    }
  }
}
