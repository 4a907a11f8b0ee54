import { afterEach, describe, expect, it } from "vitest";
import { PatientMap, type PatientMapRow } from "./patientMap.js";
import { LivePatientMap } from "./patientMapLive.js";
import { verifyPatientMapProof, type PatientMapValue } from "./patientMapProof.js";

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

const patients = Array.from({ length: 400 }, (_, i) => `0x${(0xabc000 + i).toString(16).padStart(40, "0")}`);
const sortRows = (rows: PatientMapRow[]) => rows.slice().sort((a, b) => (a.patient < b.patient ? -1 : 1));

let live: LivePatientMap | undefined;
afterEach(() => live?.stop());

/**
 * Appends random batches to a live map and to the reference `PatientMap`, committing both after
 * each; returns the committed sizes with the values at each.
 */
async function drive(
  map: LivePatientMap,
  rounds: number,
  seed: number,
  onCommit: (size: number, root: string) => void = () => undefined,
): Promise<{ reference: PatientMap; sizes: Array<{ size: number; values: Map<string, PatientMapValue> }> }> {
  const next = random(seed);
  const reference = new PatientMap();
  const truth = new Map<string, PatientMapValue>();
  const sizes: Array<{ size: number; values: Map<string, PatientMapValue> }> = [];
  let index = 0;
  for (let round = 0; round < rounds; round++) {
    const n = Math.floor(next() * 300);
    const batch = map.batch();
    const ref = reference.batch();
    for (let i = 0; i < n; i++, index++) {
      const p = patients[Math.floor(next() * (round < 3 ? 7 : patients.length))]!;
      const prev = batch.link(p, index);
      expect(prev).toBe(ref.link(p, index));
      expect(prev).toBe(truth.get(p)?.last);
      truth.set(p, { last: index, count: (truth.get(p)?.count ?? 0) + 1 });
    }
    batch.apply();
    ref.apply();
    const root = await map.commit(index);
    expect(root).toBe(reference.commit(index));
    expect(map.rootAt(index)).toBe(root);
    onCommit(index, root);
    sizes.push({ size: index, values: new Map(truth) });
  }
  return { reference, sizes };
}

describe("LivePatientMap", () => {
  for (const where of ["on this thread", "on the worker thread"] as const) {
    it(`gives the reference map's roots, proofs and changes, with trees built ${where}`, async () => {
      live = new LivePatientMap({ workerFrom: where === "on this thread" ? Infinity : 0 });
      const { reference, sizes } = await drive(live, 14, 11);
      expect(live.onWorker).toBe(where === "on the worker thread");
      // Proofs at every committed size, oldest first (this thread builds them lazily in order).
      for (const { size, values } of sizes) {
        const root = live.rootAt(size)!;
        for (const p of patients.slice(0, 30)) {
          const proof = live.prove(p, size)!;
          expect(proof).toEqual(reference.prove(p, size));
          expect(verifyPatientMapProof(root, p, proof)).toEqual(values.get(p) ?? null);
        }
      }
      // What changed between two versions, and everything at one, as the reference diffs them.
      const [a, b, c] = [sizes[4]!.size, sizes[9]!.size, sizes[13]!.size];
      expect(sortRows(live.changes(c, a)!)).toEqual(sortRows(reference.changes(c, a)!));
      expect(sortRows(live.changes(b)!)).toEqual(sortRows(reference.changes(b)!));
      expect(live.changes(c + 1)).toBeUndefined();
    });
  }

  it("builds a proof's version from the deltas when the worker built the roots, and from the full values once they were folded", async () => {
    live = new LivePatientMap({ workerFrom: 0 });
    const { reference, sizes } = await drive(live, 200, 5);
    // 200 versions, none anchored and none proven: the oldest deltas were folded into the base.
    const last = sizes.at(-1)!;
    for (const p of patients.slice(0, 20))
      expect(live.prove(p, last.size)).toEqual(reference.prove(p, last.size));
    // A version below the one built here is no longer served; a later one is.
    expect(live.prove(patients[0]!, sizes.at(-2)!.size)).toBeUndefined();
    const more = live.batch();
    more.link(patients[1]!, last.size);
    more.apply();
    const root = await live.commit(last.size + 1);
    const proof = live.prove(patients[1]!, last.size + 1)!;
    expect(verifyPatientMapProof(root, patients[1]!, proof)).toEqual({
      last: last.size,
      count: last.values.get(patients[1]!)!.count + 1,
    });
  });

  it("builds the roots the stopped worker still owed, and every later one, on this thread", async () => {
    live = new LivePatientMap({ workerFrom: 0 });
    const reference = new PatientMap();
    const owed: Array<Promise<string>> = [];
    for (let size = 1; size <= 5; size++) {
      live.record(patients[size]!, size - 1);
      reference.record(patients[size]!, size - 1);
      owed.push(live.commit(size));
      reference.commit(size);
    }
    live.stop();
    expect(live.onWorker).toBe(false);
    for (let size = 1; size <= 5; size++) expect(await owed[size - 1]).toBe(reference.rootAt(size));
    live.record(patients[9]!, 5);
    reference.record(patients[9]!, 5);
    expect(await live.commit(6)).toBe(reference.commit(6));
  });

  it("refuses a version below the last committed one", async () => {
    live = new LivePatientMap({ workerFrom: Infinity });
    live.record("p", 0);
    await live.commit(5);
    await expect(live.commit(4)).rejects.toThrow("patient map versions must be committed in size order");
  });
});
