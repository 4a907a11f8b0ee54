/**
 * The flat memory under the consent decision (src/consent/grantIndex.ts): an arena of 64-byte
 * lines, one per grant, where each patient's lines form one contiguous block behind a header line
 * holding the patient's 20-byte address and the block's length and room, and an open-addressing
 * table of 8-byte slots (the address's seeded hash and where the block starts). A lookup compares
 * hashes in the table and then the exact address in the header, which sits just before the grants
 * the decision reads next; so a decision touches one slot and one block whatever the number of
 * grants, and the table stays small (2-4 MB at 200k patients) so that it stays in the caches and
 * the TLB, leaving the block as the one cold read. The arena knows blocks and lines, not what a line holds.
 */

/** Words (int32) per line: a line is 64 bytes, 16 int32 words or 8 float64 numbers. */
export const LINE = 16;

/** Scratch for parsed addresses: the patient in words 0..4, an account in words 5..9. */
export const WORDS = new Int32Array(10);

// A patient's slot in the table: the address's hash (a tag) and where its block starts (line + 1;
// 0 marks an empty slot). The block's header line holds the patient's address in words 0..4, then
// how many grant lines follow it and how many it has room for.
const SLOT = 2;
const TAG = 0;
const POS = 1;
const LENGTH = 5;
const CAPACITY = 6;
/** Lines of a block before its grants: the header with the patient's address. */
const HEADER = 1;
const FIRST_BLOCK = 1;
const MIN_LINES = 64;
const MIN_SLOTS = 64;

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX[i.toString(16).charCodeAt(0)] = i;
  HEX[i.toString(16).toUpperCase().charCodeAt(0)] = i;
}

/** Reads `0x` and 40 hex digits (either case) into five words of `out` from `at`; false if `s` is not that. */
export function readAddress(s: string, out: Int32Array, at: number): boolean {
  if (s.length !== 42 || s.charCodeAt(0) !== 48 || (s.charCodeAt(1) | 32) !== 120) return false;
  for (let word = 0, i = 2; word < 5; word++) {
    let v = 0;
    for (const stop = i + 8; i < stop; i++) {
      const digit = HEX[s.charCodeAt(i)] ?? -1;
      if (digit < 0) return false;
      v = (v << 4) | digit;
    }
    out[at + word] = v;
  }
  return true;
}

export class GrantArena {
  readonly #seed = crypto.getRandomValues(new Uint32Array(1))[0]! | 0;
  #slots = new Int32Array(MIN_SLOTS * SLOT);
  #patients = 0;
  #words = new Int32Array(MIN_LINES * LINE);
  #numbers = new Float64Array(this.#words.buffer);
  /** Lines handed out (holes included), and lines left behind by blocks that moved. */
  #end = 0;
  #holes = 0;

  /** The lines as int32 words; replaced when the arena grows (read it again after {@link append}). */
  get words(): Int32Array {
    return this.#words;
  }

  /** The same memory as float64 numbers (number `n` of line `w` is at `(w >> 1) + n`). */
  get numbers(): Float64Array {
    return this.#numbers;
  }

  /** Lines allocated, in use (holes included), abandoned. For tests and benchmarks. */
  get lines(): { capacity: number; end: number; holes: number } {
    return { capacity: this.#words.length / LINE, end: this.#end, holes: this.#holes };
  }

  /** The slot of the patient whose address is in WORDS 0..4, or -1. */
  find(): number {
    const slots = this.#slots;
    const mask = slots.length / SLOT - 1;
    const h = hash(this.#seed, WORDS, 0);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = i * SLOT;
      const pos = slots[s + POS]!;
      if (pos === 0) return -1;
      if (slots[s + TAG] === h && this.#holds((pos - 1) * LINE)) return s;
    }
  }

  /** Word offset of the first grant line of a slot's block. */
  start(slot: number): number {
    return this.#header(slot) + HEADER * LINE;
  }

  /** Word offset just past the last grant line of a slot's block. */
  end(slot: number): number {
    const header = this.#header(slot);
    return header + (HEADER + this.#words[header + LENGTH]!) * LINE;
  }

  /** Word offset of a slot's header line. */
  #header(slot: number): number {
    return (this.#slots[slot + POS]! - 1) * LINE;
  }

  /**
   * Adds a zeroed line at the end of the block of the patient in WORDS 0..4 (a new slot and block
   * when the patient has none) and returns its word offset. A full block grows by half and moves
   * to the end of the arena; when the arena is full, every block is copied into a fresh one twice
   * the live size, which drops the holes moved blocks left.
   */
  append(): number {
    let slot = this.find();
    if (slot < 0) {
      const lines = HEADER + FIRST_BLOCK;
      if (this.#end + lines > this.#words.length / LINE) this.#compact(this.#end - this.#holes + lines);
      slot = this.#insert(this.#end);
      const header = this.#end * LINE;
      this.#words.fill(0, header, header + LINE);
      this.#words.set(WORDS.subarray(0, 5), header);
      this.#words[header + CAPACITY] = FIRST_BLOCK;
      this.#end += lines;
    }
    const slots = this.#slots;
    let header = this.#header(slot);
    const length = this.#words[header + LENGTH]!;
    if (length === this.#words[header + CAPACITY]!) {
      const capacity = length + Math.max(1, length >> 1);
      if (this.#end + HEADER + capacity > this.#words.length / LINE) {
        this.#words[header + CAPACITY] = capacity;
        this.#compact(this.#end - this.#holes - length + capacity);
      } else {
        this.#words.copyWithin(this.#end * LINE, header, header + (HEADER + length) * LINE);
        this.#holes += HEADER + length;
        slots[slot + POS] = this.#end + 1;
        this.#words[this.#end * LINE + CAPACITY] = capacity;
        this.#end += HEADER + capacity;
      }
      header = this.#header(slot);
    }
    const words = this.#words;
    const w = header + (HEADER + length) * LINE;
    words[header + LENGTH] = length + 1;
    words.fill(0, w, w + LINE);
    return w;
  }

  /** True when the header line at word `w` names the patient in WORDS 0..4. */
  #holds(w: number): boolean {
    const words = this.#words;
    return (
      words[w] === WORDS[0] &&
      words[w + 1] === WORDS[1] &&
      words[w + 2] === WORDS[2] &&
      words[w + 3] === WORDS[3] &&
      words[w + 4] === WORDS[4]
    );
  }

  /** Adds a slot for the patient in WORDS 0..4 whose block starts at line `start`; returns its offset. */
  #insert(start: number): number {
    // at most three slots in four used: linear probing stays short, and the table small
    if ((this.#patients + 1) * 4 * SLOT > this.#slots.length * 3) this.#rehash(this.#slots.length * 2);
    const slots = this.#slots;
    const mask = slots.length / SLOT - 1;
    const h = hash(this.#seed, WORDS, 0);
    let i = h & mask;
    while (slots[i * SLOT + POS] !== 0) i = (i + 1) & mask;
    slots[i * SLOT + TAG] = h;
    slots[i * SLOT + POS] = start + 1;
    this.#patients++;
    return i * SLOT;
  }

  #rehash(length: number): void {
    const old = this.#slots;
    const slots = new Int32Array(length);
    const mask = length / SLOT - 1;
    for (let s = 0; s < old.length; s += SLOT) {
      if (old[s + POS] === 0) continue;
      let i = old[s + TAG]! & mask;
      while (slots[i * SLOT + POS] !== 0) i = (i + 1) & mask;
      slots.set(old.subarray(s, s + SLOT), i * SLOT);
    }
    this.#slots = slots;
  }

  /**
   * Moves every block to the front of a fresh arena with room for as much again as `live` lines
   * (headers and the blocks' capacities): that drops the holes moved blocks left behind.
   */
  #compact(live: number): void {
    const old = this.#words;
    const words = new Int32Array(Math.max(MIN_LINES, 2 * live) * LINE);
    const slots = this.#slots;
    let end = 0;
    for (let s = 0; s < slots.length; s += SLOT) {
      if (slots[s + POS] === 0) continue;
      const header = (slots[s + POS]! - 1) * LINE;
      words.set(old.subarray(header, header + (HEADER + old[header + LENGTH]!) * LINE), end * LINE);
      slots[s + POS] = end + 1;
      end += HEADER + old[header + CAPACITY]!;
    }
    this.#words = words;
    this.#numbers = new Float64Array(words.buffer);
    this.#end = end;
    this.#holes = 0;
  }
}

/** A seeded mix of a 20-byte address, so crafted addresses cannot pile onto one probe chain. */
function hash(seed: number, words: Int32Array, at: number): number {
  let h = seed;
  for (let i = at; i < at + 5; i++) {
    h = Math.imul(h ^ words[i]!, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}
