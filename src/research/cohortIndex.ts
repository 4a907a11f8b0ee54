/**
 * The node's in-memory cohort index: every patient's profile (cohortProfile.ts), with posting lists
 * from each condition and medication code, and from each observed LOINC code, to the patients
 * holding it. A match starts from the smallest candidate set any criterion names (the union of a
 * criterion's code postings) and checks the other criteria on those candidates only, so a query
 * for a rare condition over 100k patients looks at a few hundred profiles and decrypts nothing.
 * The index lives in the node's memory only (it is PHI): nothing of it is stored or sent.
 */
import type { Criterion } from "./studyDefinition.js";
import { holds, type PatientProfile } from "./cohortProfile.js";

export class CohortIndex {
  readonly #slots = new Map<string, number>();
  readonly #keys: (string | undefined)[] = [];
  readonly #profiles: (PatientProfile | undefined)[] = [];
  readonly #free: number[] = [];
  readonly #postings = new Map<string, Set<number>>();

  /** Patients in the index. */
  get size(): number {
    return this.#slots.size;
  }

  /** Adds or replaces a patient's profile. */
  set(key: string, profile: PatientProfile): void {
    this.delete(key);
    const slot = this.#free.pop() ?? this.#keys.length;
    this.#slots.set(key, slot);
    this.#keys[slot] = key;
    this.#profiles[slot] = profile;
    for (const token of tokensOf(profile)) {
      let list = this.#postings.get(token);
      if (list === undefined) this.#postings.set(token, (list = new Set()));
      list.add(slot);
    }
  }

  /** Removes a patient (an erased record, a patient moved away). */
  delete(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    for (const token of tokensOf(this.#profiles[slot]!)) {
      const list = this.#postings.get(token);
      list?.delete(slot);
      if (list?.size === 0) this.#postings.delete(token);
    }
    this.#slots.delete(key);
    this.#keys[slot] = undefined;
    this.#profiles[slot] = undefined;
    this.#free.push(slot);
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  /** The candidate slots of one criterion, or undefined when it names no posting (age, sex). */
  #candidates(c: Criterion): Set<number> | number[] | undefined {
    const union = (tokens: string[]): number[] | Set<number> => {
      const lists = tokens.map((t) => this.#postings.get(t)).filter((l) => l !== undefined);
      if (lists.length === 1) return lists[0]!;
      const out = new Set<number>();
      for (const l of lists) for (const s of l) out.add(s);
      return out;
    };
    switch (c.kind) {
      case "condition":
        return union(c.codes.map((k) => `condition|${k.system}|${k.code}`));
      case "medication":
        return union(c.rxnorm.map((k) => `medication|${k}`));
      case "observation":
        return union([`observation|${c.code}`]);
      case "age":
      case "sex":
        return undefined;
    }
  }

  /**
   * The keys of every patient meeting all criteria on `now`.
   * @param criteria - The study's criteria (AND).
   */
  match(criteria: readonly Criterion[], now: Date): string[] {
    let best: Set<number> | number[] | undefined;
    const size = (s: Set<number> | number[]) => (Array.isArray(s) ? s.length : s.size);
    for (const c of criteria) {
      const cands = this.#candidates(c);
      if (cands !== undefined && (best === undefined || size(cands) < size(best))) best = cands;
    }
    const out: string[] = [];
    const check = (slot: number) => {
      const p = this.#profiles[slot];
      if (p !== undefined && criteria.every((c) => holds(c, p, now))) out.push(this.#keys[slot]!);
    };
    if (best === undefined) for (let s = 0; s < this.#profiles.length; s++) check(s);
    else for (const s of best) check(s);
    return out;
  }
}

function tokensOf(p: PatientProfile): string[] {
  return [...p.codes, ...[...p.observations.keys()].map((k) => `observation|${k}`)];
}
