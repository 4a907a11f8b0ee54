/**
 * The node's patient map: patient -> (index of their last entry, number of entries), kept beside
 * the audit log so every signed tree head commits to it (`mapRoot`). Appends touch one mutable
 * slot per entry about a patient (a `Map` lookup); the sparse Merkle tree of `patientMapProof.ts`
 * is brought up to date only when a head is signed: the patients changed since the previous head
 * are partitioned by key bit level by level, and each tree node on their paths is rebuilt and
 * hashed once. Trees are persistent (a new version shares every unchanged node with the last), so
 * the versions of recent heads stay available for proofs at an anchored size, and two versions
 * are diffed by walking only the nodes they do not share. Node hashes and keys are 32-character
 * latin1 strings, not Buffers: the tree holds a few nodes per patient, and tens of thousands of
 * small ArrayBuffers slow every garbage collection. docs/audit-completeness.md
 */
import { hash } from "node:crypto";
import type { Hex } from "viem";
import { EMPTY_MAP_ROOT, type PatientMapProof, type PatientMapValue } from "./patientMapProof.js";

/** What linking needs of one patient's value, mutated in place as entries about them commit. */
export interface ChainSlot {
  readonly patient: string;
  last: number;
  /** 0 while no committed entry names the patient (the slot is then not in the map). */
  count: number;
  /**
   * Entries about the patient linked by batches not yet committed (written or in flight), and the
   * index of the last of them: the next entry links to it.
   */
  pending: number;
  pendingLast: number;
}

/** One patient's value in the reference map. */
interface Slot extends ChainSlot {
  /** The map key, `SHA-256(patient)` as latin1, computed when the patient first enters the tree. */
  key: string | undefined;
  /** Changed since the tree was last brought up to date. */
  dirty: boolean;
}

interface Leaf {
  readonly kind: 0;
  readonly key: string;
  readonly patient: string;
  readonly last: number;
  readonly count: number;
  readonly hash: string;
}
interface Inner {
  readonly kind: 1;
  readonly left: MapNode | null;
  readonly right: MapNode | null;
  readonly hash: string;
}
type MapNode = Leaf | Inner;

/** A patient's row as persisted (src/store/auditRows.ts). */
export interface PatientMapRow {
  patient: string;
  last: number;
  count: number;
}

const ZERO = "\0".repeat(32);
/** Versions kept for proofs: the heads since the last anchored one and a few anchored before it. */
const KEEP_ANCHORED = 4;
const TWO_32 = 2 ** 32;

/** Scratch inputs of the two hash shapes, reused: the tree is rebuilt on one thread. */
const leafInput = Buffer.alloc(49);
const innerInput = Buffer.alloc(65);
innerInput[0] = 0x01;

function keyOf(patient: string): string {
  return hash("sha256", patient, "binary");
}

function leafOf(slot: Slot): Leaf {
  slot.key ??= keyOf(slot.patient);
  leafInput.write(slot.key, 1, 32, "latin1");
  leafInput.writeUInt32BE(Math.floor(slot.last / TWO_32), 33);
  leafInput.writeUInt32BE(slot.last >>> 0, 37);
  leafInput.writeUInt32BE(Math.floor(slot.count / TWO_32), 41);
  leafInput.writeUInt32BE(slot.count >>> 0, 45);
  return {
    kind: 0,
    key: slot.key,
    patient: slot.patient,
    last: slot.last,
    count: slot.count,
    hash: hash("sha256", leafInput, "binary"),
  };
}

function innerOf(left: MapNode | null, right: MapNode | null): Inner {
  innerInput.write(left === null ? ZERO : left.hash, 1, 32, "latin1");
  innerInput.write(right === null ? ZERO : right.hash, 33, 32, "latin1");
  return { kind: 1, left, right, hash: hash("sha256", innerInput, "binary") };
}

/** Bit `depth` of a latin1 key, most significant bit of byte 0 first. */
const bitOf = (key: string, depth: number): number => (key.charCodeAt(depth >> 3) >> (7 - (depth & 7))) & 1;

/** Reorders `leaves[lo..hi)` so the keys with bit `depth` 0 come first; returns where the 1s start. */
function partition(leaves: Leaf[], lo: number, hi: number, depth: number): number {
  let i = lo;
  let j = hi - 1;
  while (i <= j) {
    if (bitOf((leaves[i] as Leaf).key, depth) === 0) i++;
    else {
      const t = leaves[i] as Leaf;
      leaves[i] = leaves[j] as Leaf;
      leaves[j--] = t;
    }
  }
  return i;
}

/** The compact subtree holding exactly `leaves[lo..hi)` (distinct keys sharing `depth` bits). */
function build(leaves: Leaf[], lo: number, hi: number, depth: number): MapNode | null {
  if (hi - lo <= 1) return hi === lo ? null : (leaves[lo] as Leaf);
  const mid = partition(leaves, lo, hi, depth);
  return innerOf(build(leaves, lo, mid, depth + 1), build(leaves, mid, hi, depth + 1));
}

/**
 * The version of the subtree `node` (at `depth`) with `leaves[lo..hi)` put in (a leaf replaces the
 * one with the same key); every node it does not touch is shared with `node`.
 */
function update(node: MapNode | null, leaves: Leaf[], lo: number, hi: number, depth: number): MapNode | null {
  if (lo === hi) return node;
  if (node === null) return build(leaves, lo, hi, depth);
  if (node.kind === 0) {
    const group = leaves.slice(lo, hi);
    if (!group.some((l) => l.key === node.key)) group.push(node);
    return build(group, 0, group.length, depth);
  }
  const mid = partition(leaves, lo, hi, depth);
  return innerOf(
    update(node.left, leaves, lo, mid, depth + 1),
    update(node.right, leaves, mid, hi, depth + 1),
  );
}

/** Calls `emit` for every leaf of `next` (at `depth`) that `prev` does not share. */
function diff(next: MapNode | null, prev: MapNode | null, depth: number, emit: (leaf: Leaf) => void): void {
  if (next === prev || next === null) return;
  if (next.kind === 0) {
    emit(next);
    return;
  }
  let left: MapNode | null = null;
  let right: MapNode | null = null;
  if (prev?.kind === 1) ({ left, right } = prev);
  else if (prev !== null && bitOf(prev.key, depth) === 0) left = prev;
  else right = prev;
  diff(next.left, left, depth + 1, emit);
  diff(next.right, right, depth + 1, emit);
}

const hexOf = (s: string): Hex => `0x${Buffer.from(s, "binary").toString("hex")}`;

/**
 * Links the entries of one batch of appends into their patients' chains: `link` gives each entry
 * its `prev`, `apply` records them once the batch is committed, `discard` forgets them when it
 * failed. Several batches may be linked before the first commits (the audit log's writing thread
 * takes the next while it writes one); each is applied, in order, or discarded, and a failed one
 * fails every batch linked after it (they link to its entries).
 */
export interface PatientBatch {
  /**
   * @param patient - the stored patient key
   * @param index - the entry's index, above every index linked before
   * @returns the index of the patient's previous entry, or undefined for their first
   */
  link(patient: string, index: number): number | undefined;
  /** Records every linked entry as committed, in the order linked. */
  apply(): void;
  /** Forgets every linked entry: the batch was not committed. */
  discard(): void;
}

/**
 * A batch over any map's slots (the reference map here, the live one in patientMapLive.ts).
 * @param slotOf - the patient's slot, made on first sight
 * @param advance - records one committed entry at `index` in the slot
 */
export function linkingBatch<S extends ChainSlot>(
  slotOf: (patient: string) => S,
  advance: (slot: S, index: number) => void,
): PatientBatch {
  const slots: S[] = [];
  const indices: number[] = [];
  let settled = false;
  const settle = () => {
    if (settled) throw new Error("a patient batch is applied or discarded once");
    settled = true;
  };
  return {
    link: (patient, index) => {
      const s = slotOf(patient);
      const prev = s.pending > 0 ? s.pendingLast : s.count === 0 ? undefined : s.last;
      s.pending++;
      s.pendingLast = index;
      slots.push(s);
      indices.push(index);
      return prev;
    },
    apply: () => {
      settle();
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i] as S;
        s.pending--;
        advance(s, indices[i] as number);
      }
    },
    discard: () => {
      settle();
      for (const s of slots) s.pending--;
    },
  };
}

/**
 * The patient map of one log, with tree versions at the sizes of recent tree heads.
 */
export class PatientMap {
  readonly #slots = new Map<string, Slot>();
  #dirty: Slot[] = [];
  #root: MapNode | null = null;
  readonly #versions = new Map<number, MapNode | null>();

  /** The value of a patient now, or undefined when the log holds no chained entry about them. */
  get(patient: string): PatientMapValue | undefined {
    const s = this.#slots.get(patient);
    return s === undefined || s.count === 0 ? undefined : { last: s.last, count: s.count };
  }

  /** Number of patients in the map. */
  get size(): number {
    let n = 0;
    for (const s of this.#slots.values()) if (s.count > 0) n++;
    return n;
  }

  /** Every patient in the map with their value now. */
  *entries(): IterableIterator<[string, PatientMapValue]> {
    for (const [patient, s] of this.#slots)
      if (s.count > 0) yield [patient, { last: s.last, count: s.count }];
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
   * @param patient - the stored patient key
   * @param index - the entry's index
   */
  record(patient: string, index: number): void {
    const s = this.#slot(patient);
    if (s.count === 0 || index > s.last) this.#advance(s, index);
  }

  /**
   * Loads persisted values (src/store/auditRows.ts); each row says the patient had `count` entries
   * up to and including `last`. Rows for patients already known with a later `last` are ignored.
   */
  restore(rows: Iterable<PatientMapRow>): void {
    for (const row of rows) this.set(row.patient, row.last, row.count);
  }

  /**
   * Sets a patient's value: `count` entries up to and including `last`. A value with a `last` at
   * or below the patient's current one is ignored (values only move forward).
   */
  set(patient: string, last: number, count: number): void {
    const s = this.#slot(patient);
    if (s.count !== 0 && s.last >= last) return;
    s.last = last;
    s.count = count;
    this.#markDirty(s);
  }

  /**
   * Builds the tree version of the map as it is now and keeps it as the version at `size`.
   * @param size - the log size the map now reflects
   * @returns the map root
   */
  commit(size: number): Hex {
    if (this.#dirty.length > 0) {
      const leaves = this.#dirty.map((s) => {
        s.dirty = false;
        return leafOf(s);
      });
      this.#dirty = [];
      this.#root = update(this.#root, leaves, 0, leaves.length, 0);
    }
    this.#versions.set(size, this.#root);
    return this.rootAt(size) as Hex;
  }

  /** The root of the version at `size`, or undefined when that version is not kept. */
  rootAt(size: number): Hex | undefined {
    if (!this.#versions.has(size)) return undefined;
    const root = this.#versions.get(size) ?? null;
    return root === null ? EMPTY_MAP_ROOT : hexOf(root.hash);
  }

  /**
   * The proof of `patient`'s value (or absence) in the version at `size`.
   * @returns the proof, or undefined when that version is not kept
   */
  prove(patient: string, size: number): PatientMapProof | undefined {
    if (!this.#versions.has(size)) return undefined;
    let node = this.#versions.get(size) ?? null;
    const key = this.#slots.get(patient)?.key ?? keyOf(patient);
    const siblings: Hex[] = [];
    for (let depth = 0; node !== null && node.kind === 1; depth++) {
      const right = bitOf(key, depth) === 1;
      const sibling = right ? node.left : node.right;
      siblings.push(sibling === null ? EMPTY_MAP_ROOT : hexOf(sibling.hash));
      node = right ? node.right : node.left;
    }
    return {
      siblings,
      leaf: node === null ? null : { keyHash: hexOf(node.key), last: node.last, count: node.count },
    };
  }

  /**
   * The patients whose value in the version at `size` differs from the version at `since` (every
   * patient when `since` is undefined or not kept), for persisting the map incrementally.
   * @returns their rows at `size`, or undefined when the version at `size` is not kept
   */
  changes(size: number, since?: number): PatientMapRow[] | undefined {
    if (!this.#versions.has(size)) return undefined;
    const prev =
      since !== undefined && this.#versions.has(since) ? (this.#versions.get(since) ?? null) : null;
    const rows: PatientMapRow[] = [];
    diff(this.#versions.get(size) ?? null, prev, 0, (l) =>
      rows.push({ patient: l.patient, last: l.last, count: l.count }),
    );
    return rows;
  }

  /**
   * Drops the versions older than the `KEEP_ANCHORED`-th anchored size below `anchoredSize`,
   * except `pinned` (the version the persisted rows were written from).
   */
  anchored(anchoredSize: number, pinned?: number): void {
    const older = [...this.#versions.keys()].filter((s) => s < anchoredSize).sort((a, b) => b - a);
    for (const size of older.slice(KEEP_ANCHORED - 1)) if (size !== pinned) this.#versions.delete(size);
  }

  /** Drops every version below `size` (a map that only ever serves its latest root). */
  dropVersionsBelow(size: number): void {
    for (const s of this.#versions.keys()) if (s < size) this.#versions.delete(s);
  }

  #slot(patient: string): Slot {
    let s = this.#slots.get(patient);
    if (s === undefined) {
      s = { patient, key: undefined, last: 0, count: 0, dirty: false, pending: 0, pendingLast: 0 };
      this.#slots.set(patient, s);
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
