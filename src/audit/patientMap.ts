/**
 * The node's patient map: patient -> (index of their last entry, number of entries), kept beside
 * the audit log so every signed tree head commits to it (`mapRoot`). Appends update a plain
 * `Map` (a lookup and a store per entry about a patient); the sparse Merkle tree of
 * `patientMapProof.ts` is brought up to date only when a head is signed, rehashing the paths of
 * the patients that changed since the previous head once each. Trees are persistent (a new
 * version shares every unchanged node with the last), so the versions of recent heads stay
 * available for proofs at an anchored size. docs/audit-completeness.md
 */
import { hash } from "node:crypto";
import { bytesToHex, type Hex } from "viem";
import {
  EMPTY_MAP_ROOT,
  keyBit,
  mapLeafInput,
  type PatientMapProof,
  type PatientMapValue,
} from "./patientMapProof.js";

interface Leaf {
  readonly kind: 0;
  readonly key: Buffer;
  readonly last: number;
  readonly count: number;
  readonly hash: Buffer;
}
interface Inner {
  readonly kind: 1;
  left: MapNode | null;
  right: MapNode | null;
  /** Undefined while the node is new in the version being built (it may then change in place). */
  hash: Buffer | undefined;
}
type MapNode = Leaf | Inner;

const ZERO = Buffer.alloc(32);
/** Versions kept for proofs: the heads since the last anchored one and a few anchored before it. */
const KEEP_ANCHORED = 4;

function leafOf(key: Buffer, value: PatientMapValue): Leaf {
  const h = hash("sha256", mapLeafInput(key, value.last, value.count), "buffer");
  return { kind: 0, key, last: value.last, count: value.count, hash: h };
}

function hashOf(node: MapNode | null): Buffer {
  if (node === null) return ZERO;
  if (node.hash !== undefined) return node.hash;
  // Only an inner node new in this version has no hash yet.
  node = node as Inner;
  const input = Buffer.allocUnsafe(65);
  input[0] = 0x01;
  hashOf(node.left).copy(input, 1);
  hashOf(node.right).copy(input, 33);
  node.hash = hash("sha256", input, "buffer");
  return node.hash;
}

/** Two leaves below one new path, split at the first bit where their keys differ. */
function join(a: Leaf, b: Leaf, depth: number): Inner {
  const ba = keyBit(a.key, depth);
  if (ba === keyBit(b.key, depth)) {
    const child = join(a, b, depth + 1);
    return ba === 0
      ? { kind: 1, left: child, right: null, hash: undefined }
      : { kind: 1, left: null, right: child, hash: undefined };
  }
  return ba === 0
    ? { kind: 1, left: a, right: b, hash: undefined }
    : { kind: 1, left: b, right: a, hash: undefined };
}

/** Puts `leaf` into the version rooted at `node`, copying the shared nodes on its path. */
function insert(node: MapNode | null, leaf: Leaf, depth: number): MapNode {
  if (node === null) return leaf;
  if (node.kind === 0) return node.key.equals(leaf.key) ? leaf : join(node, leaf, depth);
  const target: Inner = node.hash === undefined ? node : { ...node, hash: undefined };
  if (keyBit(leaf.key, depth) === 0) target.left = insert(node.left, leaf, depth + 1);
  else target.right = insert(node.right, leaf, depth + 1);
  return target;
}

/**
 * The patient map of one log, with tree versions at the sizes of recent tree heads.
 */
export class PatientMap {
  readonly #values = new Map<string, PatientMapValue>();
  readonly #keys = new Map<string, Buffer>();
  /** Patients whose value changed since `#root` was built. */
  #dirty = new Set<string>();
  #root: MapNode | null = null;
  readonly #versions = new Map<number, MapNode | null>();

  /** The value of a patient now, or undefined when the log holds no chained entry about them. */
  get(patient: string): PatientMapValue | undefined {
    return this.#values.get(patient);
  }

  /**
   * Records a committed entry about `patient` at `index`.
   * @param patient - the stored patient key
   * @param index - the entry's index, above the patient's last
   */
  record(patient: string, index: number): void {
    const v = this.#values.get(patient);
    this.#values.set(patient, { last: index, count: (v?.count ?? 0) + 1 });
    this.#dirty.add(patient);
  }

  /**
   * Builds the tree version of the map as it is now and keeps it as the version at `size`.
   * @param size - the log size the map now reflects
   * @returns the map root
   */
  commit(size: number): Hex {
    let root = this.#root;
    for (const patient of this.#dirty) {
      root = insert(root, leafOf(this.#keyOf(patient), this.#values.get(patient)!), 0);
    }
    this.#dirty = new Set();
    hashOf(root);
    this.#root = root;
    this.#versions.set(size, root);
    return this.rootAt(size) as Hex;
  }

  /** The root of the version at `size`, or undefined when that version is not kept. */
  rootAt(size: number): Hex | undefined {
    if (!this.#versions.has(size)) return undefined;
    const root = this.#versions.get(size) ?? null;
    return root === null ? EMPTY_MAP_ROOT : bytesToHex(hashOf(root));
  }

  /**
   * The proof of `patient`'s value (or absence) in the version at `size`.
   * @returns the proof, or undefined when that version is not kept
   */
  prove(patient: string, size: number): PatientMapProof | undefined {
    if (!this.#versions.has(size)) return undefined;
    let node = this.#versions.get(size) ?? null;
    const key = this.#keyOf(patient);
    const siblings: Hex[] = [];
    for (let depth = 0; node !== null && node.kind === 1; depth++) {
      const right = keyBit(key, depth) === 1;
      siblings.push(bytesToHex(hashOf(right ? node.left : node.right)));
      node = right ? node.right : node.left;
    }
    return {
      siblings,
      leaf: node === null ? null : { keyHash: bytesToHex(node.key), last: node.last, count: node.count },
    };
  }

  /** Drops the versions older than the `KEEP_ANCHORED`-th anchored size below `anchoredSize`. */
  anchored(anchoredSize: number): void {
    const older = [...this.#versions.keys()].filter((s) => s < anchoredSize).sort((a, b) => b - a);
    for (const size of older.slice(KEEP_ANCHORED - 1)) this.#versions.delete(size);
  }

  #keyOf(patient: string): Buffer {
    let key = this.#keys.get(patient);
    if (key === undefined) {
      key = hash("sha256", patient, "buffer");
      this.#keys.set(patient, key);
    }
    return key;
  }
}
