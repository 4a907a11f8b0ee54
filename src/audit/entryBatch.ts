/**
 * A batch of audit entries as it travels from the event loop to whatever writes it (the writing
 * thread, src/audit/entryWriter.ts, or the event loop itself): packed into a few flat values. On
 * the append hot path, building, flattening and posting thousands of small strings and objects
 * per batch cost the event loop more than the rest of an append; a packed batch is written once,
 * as a few joins, and posting it copies a handful of strings and arrays.
 */
import type { AuditEntryTable, AuditOpeningTable } from "../store/schema.js";
import type { AuditEntry } from "./auditEntry.js";
import { canonicalParts } from "./canonicalText.js";
import { SALT_DIGITS } from "./entrySealer.js";
import { prefixedLeafHash, pushLeaf, type EdgeNode } from "./serverHash.js";

/** One batch of entries `firstIndex...`: {@link BatchPacker} builds it, {@link batchRows} opens it. */
export interface EntryBatch {
  firstIndex: number;
  createdAt: number;
  /**
   * Each entry's canonical text preceded by a NUL, in order, cut into chunks of about
   * {@link CHUNK_CHARS} characters: a string past ~128 KB is allocated page by page outside V8's
   * young generation, which costs more than the join itself. A canonical text holds no raw NUL
   * (JSON escapes control characters), and `"\0" + text` is exactly its RFC 9162 leaf-hash input.
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

/** Characters from which a chunk of a batch's texts is closed (after the entry that crossed it). */
const CHUNK_CHARS = 48 * 1024;

/** Builds an {@link EntryBatch} entry by entry, in index order. */
export class BatchPacker {
  readonly #firstIndex: number;
  readonly #createdAt: number;
  readonly #lengths: Int32Array;
  readonly #patients: string[];
  readonly #chunks: string[] = [];
  #parts: string[] = [];
  #chars = 0;
  #count = 0;
  readonly #at: number[] = [];
  readonly #salts: string[] = [];
  readonly #facts: string[] = [];

  /** @param count - how many entries the batch will hold */
  constructor(firstIndex: number, createdAt: number, count: number) {
    this.#firstIndex = firstIndex;
    this.#createdAt = createdAt;
    this.#lengths = new Int32Array(count);
    this.#patients = new Array<string>(count);
  }

  /**
   * Adds the next entry's canonical text (`canonicalParts`) and patient key.
   * @param patient - the entry's patient key, or null
   */
  entry(e: AuditEntry, prev: number | undefined, commitment: string | null, patient: string | null): void {
    const i = this.#count++;
    this.#parts.push("\0");
    const length = canonicalParts(this.#parts, e, prev, commitment);
    this.#lengths[i] = length;
    this.#patients[i] = patient ?? "";
    this.#chars += length + 1;
    if (this.#chars >= CHUNK_CHARS) this.#cut();
  }

  /** Adds the opening of one of the batch's entries (in index order). */
  opening(o: AuditOpeningTable): void {
    this.#at.push(o.idx - this.#firstIndex);
    this.#salts.push(o.salt);
    this.#facts.push(o.facts);
  }

  /** The packed batch, once every entry is in. */
  finish(): EntryBatch {
    if (this.#count !== this.#lengths.length) throw new Error("audit batch packed with entries missing");
    this.#cut();
    return {
      firstIndex: this.#firstIndex,
      createdAt: this.#createdAt,
      texts: this.#chunks,
      lengths: this.#lengths,
      patients: this.#patients.join("\0"),
      openings: { at: Int32Array.from(this.#at), salts: this.#salts.join(""), facts: this.#facts.join("\0") },
    };
  }

  #cut(): void {
    if (this.#parts.length === 0) return;
    this.#chunks.push(this.#parts.join(""));
    this.#parts = [];
    this.#chars = 0;
  }
}

/** The first entry's text of a packed batch ("" for an empty batch). */
export function firstText(batch: EntryBatch): string {
  return batch.lengths.length === 0
    ? ""
    : (batch.texts[0] as string).slice(1, 1 + (batch.lengths[0] as number));
}

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
