/**
 * The audit log's live patient map (docs/audit-completeness.md): patient -> (index of their last
 * entry, number of entries), with the root of its sparse Merkle tree at the size of every signed
 * tree head.
 *
 * Appends touch one mutable slot per entry about a patient. A commit (once per signed head) turns
 * the patients changed since the last one into a delta: three typed arrays of slot ids and values.
 * The tree itself (`PatientMap`, the reference implementation) is built from those deltas in two
 * places, with the same code:
 * - a hashing thread (`patientMapWorker.ts`), once a version changes at least `workerFrom`
 *   patients: it gets every delta in order and answers with each version's root, so a busy
 *   node's main thread never rebuilds the tree (at 50k patients, ~150 ms per head and the garbage
 *   of its ~100k nodes);
 * - this thread, lazily, when a proof is asked for a version (or for every version while no
 *   worker runs, or when it failed or was stopped): it applies the deltas since its last version.
 *   A version it builds is checked against the worker's root for the same size.
 * Deltas stay until both the persisted map and the main thread's tree are past them (at most
 * {@link MAX_DELTAS}; older ones are folded into a base snapshot, and a tree that fell behind it
 * catches up from the full values).
 */
import type { Worker } from "node:worker_threads";
import { startModuleWorker } from "../store/moduleWorker.js";
import type { Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";
import {
  linkingBatch,
  PatientMap,
  type ChainSlot,
  type PatientBatch,
  type PatientMapRow,
} from "./patientMap.js";
import type { PatientMapProof } from "./patientMapProof.js";
import type { PatientMapWorkerDelta, PatientMapWorkerRoot } from "./patientMapWorker.js";

/** One patient's value in the live map. */
interface Slot extends ChainSlot {
  /** Dense, in order of first sight: the index into the deltas' and the base's arrays. */
  readonly id: number;
  /** Changed since the last commit. */
  dirty: boolean;
}

/** The values, at `size`, of the patients changed since the previous committed version. */
interface Delta {
  readonly size: number;
  readonly ids: Uint32Array;
  readonly last: Float64Array;
  readonly count: Float64Array;
}

interface Waiting {
  size: number;
  resolve(root: Hex): void;
  reject(error: unknown): void;
}

/** Changed patients per version from which the tree is built on the hashing thread. */
const DEFAULT_WORKER_FROM = 4096;
/**
 * Most deltas kept; older ones are folded into the base snapshot. A delta is 20 bytes per changed
 * patient (~0.8 MB for a head that changed 40k), and the persisted map needs those since the last
 * persist (about ten heads); one folded away only makes the next persist write every row.
 */
const MAX_DELTAS = 16;
/** Roots kept, by committed size (the latest ones). */
const KEEP_ROOTS = 64;

export interface LivePatientMapOptions {
  /**
   * Changed patients in one version from which trees are built on a worker thread (default 4096;
   * `Infinity`: never). Below it, and until then, this thread builds them as they are committed.
   */
  workerFrom?: number;
}

export class LivePatientMap {
  readonly #slots = new Map<string, Slot>();
  readonly #byId: Slot[] = [];
  #dirty: Slot[] = [];
  /** Committed versions above `#baseSize`, ascending. */
  #deltas: Delta[] = [];
  /** The values at `#baseSize` by slot id (count 0: absent); -1: the empty map. */
  #baseSize = -1;
  #baseLast = new Float64Array(0);
  #baseCount = new Float64Array(0);
  /** Marks for merging deltas: slot id -> the merge that last saw it. */
  #seen = new Uint32Array(0);
  #merges = 0;
  /** Roots by committed size, as promises (the worker's may be pending) and once known. */
  readonly #roots = new Map<number, Promise<Hex>>();
  readonly #known = new Map<number, Hex>();
  /** This thread's tree and its latest version (-1: none). */
  readonly #tree = new PatientMap();
  #treeSize = -1;
  readonly #workerFrom: number;
  #worker: Worker | undefined;
  /** Slot ids below this have been sent to the worker with their patient key. */
  #workerKnows = 0;
  /** Set once the worker failed or was stopped: later versions are built here. */
  #workerOff = false;
  readonly #waiting: Waiting[] = [];

  constructor(options: LivePatientMapOptions = {}) {
    this.#workerFrom = options.workerFrom ?? DEFAULT_WORKER_FROM;
  }

  /** Starts linking a batch of appends (see {@link PatientBatch}). */
  batch(): PatientBatch {
    return linkingBatch(
      (patient) => this.#slot(patient),
      (s, index) => this.#advance(s, index),
    );
  }

  /**
   * Records a committed entry about `patient` at `index`; an index at or below the patient's last
   * is already counted and ignored (replaying a range that persisted rows partly cover).
   */
  record(patient: string, index: number): void {
    const s = this.#slot(patient);
    if (s.count === 0 || index > s.last) this.#advance(s, index);
  }

  /**
   * Loads persisted values; each row says the patient had `count` entries up to and including
   * `last`. Rows for patients already known with a later `last` are ignored.
   */
  restore(rows: Iterable<PatientMapRow>): void {
    for (const row of rows) {
      const s = this.#slot(row.patient);
      if (s.count !== 0 && s.last >= row.last) continue;
      s.last = row.last;
      s.count = row.count;
      this.#markDirty(s);
    }
  }

  /**
   * Commits the map as it is now as the version at `size` (sizes never go down).
   * @param size - the log size the map now reflects
   * @returns the version's root: at once when built here, or when the worker answers
   */
  commit(size: number): Promise<Hex> {
    const last = this.#deltas.at(-1)?.size ?? this.#baseSize;
    if (size < last)
      return Promise.reject(
        new BaseError("internal", "patient map versions must be committed in size order", {
          details: `${size} after ${last}`,
        }),
      );
    const n = this.#dirty.length;
    const delta: Delta = {
      size,
      ids: new Uint32Array(n),
      last: new Float64Array(n),
      count: new Float64Array(n),
    };
    for (let i = 0; i < n; i++) {
      const s = this.#dirty[i] as Slot;
      s.dirty = false;
      delta.ids[i] = s.id;
      delta.last[i] = s.last;
      delta.count[i] = s.count;
    }
    this.#dirty = [];
    this.#deltas.push(delta);
    // Nobody anchoring (so nothing folding): keep the deltas bounded anyway.
    if (this.#deltas.length > 2 * MAX_DELTAS) {
      const fold = this.#deltas.length - MAX_DELTAS;
      for (const d of this.#deltas.slice(0, fold)) this.#fold(d);
      this.#deltas = this.#deltas.slice(fold);
    }
    let root: Promise<Hex> | undefined;
    if (!this.#workerOff && (this.#worker !== undefined || n >= this.#workerFrom)) {
      try {
        root = this.#post(delta);
      } catch {
        // No thread could be started: this version and every later one are built here.
        this.#workerOff = true;
        this.#dropWorker();
      }
    }
    if (root === undefined) {
      try {
        const built = this.#build(size);
        this.#known.set(size, built);
        root = Promise.resolve(built);
      } catch (error) {
        root = Promise.reject(error);
      }
    }
    // A failure is reported to whoever awaits the root; it must not also surface as unhandled.
    root.catch(() => undefined);
    this.#roots.set(size, root);
    for (const kept of this.#roots.keys()) {
      if (this.#roots.size <= KEEP_ROOTS) break;
      this.#roots.delete(kept);
      this.#known.delete(kept);
    }
    return root;
  }

  /** True while a worker thread builds the trees. */
  get onWorker(): boolean {
    return this.#worker !== undefined;
  }

  /** The root of the version at `size` when it is known now, else undefined. */
  rootAt(size: number): Hex | undefined {
    return this.#known.get(size);
  }

  /** The root of the version at `size` (possibly still being computed), or undefined when none is kept. */
  root(size: number): Promise<Hex> | undefined {
    return this.#roots.get(size);
  }

  /** Resolves once every root committed so far is known (or failed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#roots.values()]);
  }

  /**
   * The proof of `patient`'s value (or absence) in the version at `size`, building that version
   * here first when needed.
   * @returns the proof, or undefined when that version is not kept (or was passed by a later one
   *   built here without it)
   * @throws BaseError("internal") when the version built here differs from the worker's
   */
  prove(patient: string, size: number): PatientMapProof | undefined {
    if (this.#tree.rootAt(size) === undefined) {
      if (size < this.#treeSize || !this.#isCommitted(size)) return undefined;
      this.#build(size);
    }
    return this.#tree.prove(patient, size);
  }

  /**
   * The patients whose value at `size` differs from their value at `since` (every patient when
   * `since` is undefined or no longer kept), for persisting the map incrementally.
   * @returns their values at `size`, or undefined when the version at `size` is not kept
   */
  changes(size: number, since?: number): PatientMapRow[] | undefined {
    if (size < this.#baseSize || !this.#isCommitted(size)) return undefined;
    const rows: PatientMapRow[] = [];
    const emit = (id: number, last: number, count: number) =>
      rows.push({ patient: (this.#byId[id] as Slot).patient, last, count });
    if (since !== undefined && since >= this.#baseSize && this.#isCommitted(since))
      this.#mergeDeltas(since, size, emit);
    else this.#valuesAt(size, emit);
    return rows;
  }

  /**
   * A head of `anchoredSize` was anchored: drops this thread's tree versions older than the last
   * few anchored ones (except `pinned`, the persisted one), and the deltas that neither the
   * persisted map (at `pinned`) nor this thread's tree still needs.
   */
  anchored(anchoredSize: number, pinned?: number): void {
    this.#tree.anchored(anchoredSize, pinned);
    const needed = Math.min(pinned ?? Number.POSITIVE_INFINITY, this.#treeSize);
    let fold = 0;
    while (fold < this.#deltas.length && (this.#deltas[fold] as Delta).size <= needed) fold++;
    fold = Math.max(fold, this.#deltas.length - MAX_DELTAS);
    for (const d of this.#deltas.slice(0, fold)) this.#fold(d);
    if (fold > 0) this.#deltas = this.#deltas.slice(fold);
  }

  /**
   * Stops the worker; the roots it still owed, and every later version, are built on this thread.
   */
  stop(): void {
    this.#workerOff = true;
    this.#dropWorker();
  }

  #isCommitted(size: number): boolean {
    return size === this.#baseSize || this.#deltas.some((d) => d.size === size);
  }

  /**
   * Brings this thread's tree to the version at `size` (committed, at or above its latest) and
   * returns its root, checked against the worker's when that is known.
   */
  #build(size: number): Hex {
    const kept = this.#tree.rootAt(size);
    if (kept !== undefined) return kept;
    const set = (id: number, last: number, count: number) =>
      this.#tree.set((this.#byId[id] as Slot).patient, last, count);
    if (this.#treeSize >= this.#baseSize) this.#mergeDeltas(this.#treeSize, size, set);
    else this.#valuesAt(size, set);
    const root = this.#tree.commit(size);
    this.#treeSize = size;
    const theirs = this.#known.get(size);
    if (theirs !== undefined && theirs !== root)
      throw new BaseError("internal", "patient map roots differ between the hashing thread and this one", {
        details: `tree size ${size}`,
      });
    if (this.#roots.has(size)) this.#known.set(size, root);
    return root;
  }

  /** Calls `emit` with the value at `size` of every patient changed in `(since, size]` (deltas kept). */
  #mergeDeltas(since: number, size: number, emit: (id: number, last: number, count: number) => void): void {
    if (this.#seen.length < this.#byId.length) this.#seen = new Uint32Array(this.#byId.length * 2);
    if (++this.#merges === 0xffffffff) {
      this.#seen.fill(0);
      this.#merges = 1;
    }
    const mark = this.#merges;
    for (let k = this.#deltas.length - 1; k >= 0; k--) {
      const d = this.#deltas[k] as Delta;
      if (d.size <= since) break;
      if (d.size > size) continue;
      for (let i = 0; i < d.ids.length; i++) {
        const id = d.ids[i] as number;
        if (this.#seen[id] === mark) continue;
        this.#seen[id] = mark;
        emit(id, d.last[i] as number, d.count[i] as number);
      }
    }
  }

  /** Calls `emit` with the value at `size` (at or above the base) of every patient in the map then. */
  #valuesAt(size: number, emit: (id: number, last: number, count: number) => void): void {
    const n = this.#byId.length;
    const last = new Float64Array(n);
    const count = new Float64Array(n);
    last.set(this.#baseLast.subarray(0, Math.min(n, this.#baseLast.length)));
    count.set(this.#baseCount.subarray(0, Math.min(n, this.#baseCount.length)));
    for (const d of this.#deltas) {
      if (d.size > size) break;
      for (let i = 0; i < d.ids.length; i++) {
        const id = d.ids[i] as number;
        last[id] = d.last[i] as number;
        count[id] = d.count[i] as number;
      }
    }
    for (let id = 0; id < n; id++)
      if ((count[id] as number) > 0) emit(id, last[id] as number, count[id] as number);
  }

  #fold(d: Delta): void {
    if (this.#baseLast.length < this.#byId.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(this.#byId.length * 2);
        b.set(a);
        return b;
      };
      this.#baseLast = grow(this.#baseLast);
      this.#baseCount = grow(this.#baseCount);
    }
    for (let i = 0; i < d.ids.length; i++) {
      const id = d.ids[i] as number;
      this.#baseLast[id] = d.last[i] as number;
      this.#baseCount[id] = d.count[i] as number;
    }
    this.#baseSize = d.size;
  }

  #post(delta: Delta): Promise<Hex> {
    const worker = (this.#worker ??= this.#spawn());
    const from = this.#workerKnows;
    const patients: string[] = [];
    for (let id = from; id < this.#byId.length; id++) patients.push((this.#byId[id] as Slot).patient);
    this.#workerKnows = this.#byId.length;
    const message: PatientMapWorkerDelta = { patientsFrom: from, patients, ...delta };
    worker.postMessage(message);
    return new Promise<Hex>((resolve, reject) => this.#waiting.push({ size: delta.size, resolve, reject }));
  }

  #spawn(): Worker {
    const worker = startModuleWorker(import.meta.url, "patientMapWorker");
    // The log's owner stops it; it must never keep a process alive by itself.
    worker.unref();
    worker.on("message", (m: PatientMapWorkerRoot | "ready") => {
      if (m === "ready") return;
      const w = this.#waiting.shift();
      if (w === undefined || w.size !== m.size) {
        this.#workerOff = true;
        this.#dropWorker(w);
        return;
      }
      const root = m.root as Hex;
      const mine = this.#tree.rootAt(m.size);
      if (mine !== undefined && mine !== root) {
        w.reject(
          new BaseError("internal", "patient map roots differ between the hashing thread and this one", {
            details: `tree size ${m.size}`,
          }),
        );
        return;
      }
      if (this.#roots.has(m.size)) this.#known.set(m.size, root);
      w.resolve(root);
    });
    const fail = () => {
      this.#workerOff = true;
      this.#dropWorker();
    };
    worker.on("error", fail);
    worker.on("messageerror", fail);
    worker.on("exit", fail);
    return worker;
  }

  /** Lets go of the worker and builds, here and in order, the roots it still owed. */
  #dropWorker(first?: Waiting): void {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) {
      worker.removeAllListeners();
      // An error after this point has no listener left to take it.
      worker.on("error", () => undefined);
      void worker.terminate();
    }
    const owed = first === undefined ? this.#waiting.splice(0) : [first, ...this.#waiting.splice(0)];
    for (const w of owed) {
      try {
        w.resolve(this.#build(w.size));
      } catch (error) {
        w.reject(error);
      }
    }
  }

  #slot(patient: string): Slot {
    let s = this.#slots.get(patient);
    if (s === undefined) {
      s = { id: this.#byId.length, patient, last: 0, count: 0, dirty: false, pending: 0, pendingLast: 0 };
      this.#slots.set(patient, s);
      this.#byId.push(s);
    }
    return s;
  }

  #advance(s: Slot, index: number): void {
    s.last = index;
    s.count++;
    this.#markDirty(s);
  }

  #markDirty(s: Slot): void {
    if (s.dirty) return;
    s.dirty = true;
    this.#dirty.push(s);
  }
}
