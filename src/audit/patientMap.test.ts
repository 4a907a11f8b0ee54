import { describe, expect, it } from "vitest";
import { bytesToHex, sha256, type Hex } from "viem";
import { PatientMap } from "./patientMap.js";
import {
  EMPTY_MAP_ROOT,
  keyBit,
  mapKeyOf,
  mapLeafInput,
  verifyPatientMapProof,
  type PatientMapValue,
} from "./patientMapProof.js";

/** The map root straight from its definition (docs/audit-completeness.md), with viem's SHA-256. */
function referenceRoot(values: Map<string, PatientMapValue>): Hex {
  const leaves = [...values].map(([patient, v]) => ({ key: mapKeyOf(patient), ...v }));
  const subtree = (set: typeof leaves, depth: number): Uint8Array | null => {
    if (set.length === 0) return null;
    if (set.length === 1) return sha256(mapLeafInput(set[0]!.key, set[0]!.last, set[0]!.count), "bytes");
    const left = subtree(
      set.filter((l) => keyBit(l.key, depth) === 0),
      depth + 1,
    );
    const right = subtree(
      set.filter((l) => keyBit(l.key, depth) === 1),
      depth + 1,
    );
    const input = new Uint8Array(65);
    input[0] = 1;
    input.set(left ?? new Uint8Array(32), 1);
    input.set(right ?? new Uint8Array(32), 33);
    return sha256(input, "bytes");
  };
  const root = subtree(leaves, 0);
  return root === null ? EMPTY_MAP_ROOT : bytesToHex(root);
}

/** A deterministic pseudo-random sequence (xorshift32). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("PatientMap", () => {
  it("keeps, at every committed size, the root and proofs of the map's definition", () => {
    const next = random(7);
    const patients = Array.from(
      { length: 300 },
      (_, i) => `0x${(0xabc000 + i).toString(16).padStart(40, "0")}`,
    );
    const map = new PatientMap();
    const truth = new Map<string, PatientMapValue>();
    const snapshots: Array<{ size: number; values: Map<string, PatientMapValue> }> = [];
    let index = 0;
    expect(map.commit(0)).toBe(EMPTY_MAP_ROOT);
    for (let round = 1; round <= 12; round++) {
      const n = Math.floor(next() * (round === 1 ? 3 : 200));
      const batch = map.batch();
      for (let i = 0; i < n; i++, index++) {
        const p = patients[Math.floor(next() * (round < 4 ? 5 : patients.length))]!;
        expect(batch.link(p, index)).toBe(truth.get(p)?.last);
        truth.set(p, { last: index, count: (truth.get(p)?.count ?? 0) + 1 });
      }
      batch.apply();
      expect(map.commit(index)).toBe(referenceRoot(truth));
      snapshots.push({ size: index, values: new Map(truth) });
    }
    // Older versions are unchanged by later ones, and prove present and absent patients.
    for (const { size, values } of snapshots) {
      const root = map.rootAt(size)!;
      expect(root).toBe(referenceRoot(values));
      for (const p of patients.slice(0, 40)) {
        expect(verifyPatientMapProof(root, p, map.prove(p, size)!)).toEqual(values.get(p) ?? null);
      }
    }
  });

  it("gives links inside a batch from the batch, and forgets a batch that was discarded", () => {
    const map = new PatientMap();
    const first = map.batch();
    expect(first.link("p", 0)).toBeUndefined();
    expect(first.link("p", 1)).toBe(0);
    // Its write failed: the retry links from the committed state again.
    first.discard();
    const retry = map.batch();
    expect(retry.link("p", 5)).toBeUndefined();
    expect(retry.link("q", 6)).toBeUndefined();
    expect(retry.link("p", 7)).toBe(5);
    retry.apply();
    expect(map.get("p")).toEqual({ last: 7, count: 2 });
    expect(map.get("q")).toEqual({ last: 6, count: 1 });
    expect(map.get("r")).toBeUndefined();
    expect(map.batch().link("p", 8)).toBe(7);
    expect(() => retry.apply()).toThrow(/once/);
    expect(() => retry.discard()).toThrow(/once/);
  });

  it("links a batch to the batches in flight before it, and counts only what is applied", () => {
    const map = new PatientMap();
    const a = map.batch();
    expect(a.link("p", 0)).toBeUndefined();
    // b is linked while a is still being written: p's next entry links to a's.
    const b = map.batch();
    expect(b.link("p", 1)).toBe(0);
    expect(b.link("q", 2)).toBeUndefined();
    expect(map.get("p")).toBeUndefined();
    a.apply();
    expect(map.get("p")).toEqual({ last: 0, count: 1 });
    b.apply();
    expect(map.get("p")).toEqual({ last: 1, count: 2 });
    // A failure fails what was linked after it: both are discarded, and linking starts over from
    // what is committed.
    const c = map.batch();
    c.link("p", 3);
    const d = map.batch();
    expect(d.link("p", 4)).toBe(3);
    c.discard();
    d.discard();
    expect(map.batch().link("p", 3)).toBe(1);
    expect(map.get("p")).toEqual({ last: 1, count: 2 });
  });

  it("lists exactly the patients that changed between two versions, and rebuilds from them", () => {
    const map = new PatientMap();
    const patients = Array.from({ length: 100 }, (_, i) => `patient-${i}`);
    patients.forEach((p, i) => map.record(p, i));
    map.commit(100);
    map.record("patient-3", 100);
    map.record("patient-77", 101);
    map.record("patient-new", 102);
    const root = map.commit(103);
    const changed = map.changes(103, 100)!;
    expect(changed.map((r) => r.patient).sort()).toEqual(["patient-3", "patient-77", "patient-new"]);
    expect(changed.find((r) => r.patient === "patient-3")).toEqual({
      patient: "patient-3",
      last: 100,
      count: 2,
    });
    // Every patient when there is nothing to diff against.
    const all = map.changes(103)!;
    expect(all).toHaveLength(101);
    const rebuilt = new PatientMap();
    rebuilt.restore(all);
    expect(rebuilt.commit(103)).toBe(root);
    // Replaying entries that the rows already count changes nothing; later ones count.
    rebuilt.record("patient-3", 100);
    rebuilt.record("patient-3", 104);
    expect(rebuilt.get("patient-3")).toEqual({ last: 104, count: 3 });
    expect(map.changes(999)).toBeUndefined();
  });
});
