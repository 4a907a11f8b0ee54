import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { leafHash } from "./merkleHash.js";
import { merkleRoot, memoryNodeSource } from "./merkleRoot.js";
import { buildConsistencyProof, consistencyRanges, verifyConsistency } from "./consistencyProof.js";

interface ConsistencyCase {
  desc?: string;
  size1: number;
  size2: number;
  root1_hex: string;
  root2_hex: string;
  proof_hex: string[];
  want_error?: boolean;
}
const vectors = JSON.parse(
  readFileSync(new URL("../../test/fixtures/merkle/vectors.json", import.meta.url), "utf8"),
) as {
  consistency_proofs: ConsistencyCase[];
  consistency_probes: ConsistencyCase[];
  derived: { consistency_proofs: ConsistencyCase[] };
};
const b = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const check = (c: ConsistencyCase): boolean =>
  verifyConsistency(c.size1, c.size2, b(c.root1_hex), b(c.root2_hex), c.proof_hex.map(b));

function* bitFlips(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length * 8; i++) {
    const copy = Uint8Array.from(bytes);
    copy[i >> 3] = (copy[i >> 3] as number) ^ (1 << (i & 7));
    yield copy;
  }
}

describe("verifyConsistency", () => {
  it("accepts the published RFC 6962 consistency proofs", () => {
    expect(vectors.consistency_proofs).toHaveLength(5);
    for (const c of vectors.consistency_proofs) expect(check(c), `${c.size1} -> ${c.size2}`).toBe(true);
  });

  it("accepts the derived proofs for every (size1, size2) up to 8", () => {
    expect(vectors.derived.consistency_proofs).toHaveLength(36);
    for (const c of vectors.derived.consistency_proofs) expect(check(c)).toBe(true);
  });

  it("answers every transparency-dev probe as published", () => {
    expect(vectors.consistency_probes).toHaveLength(98);
    for (const c of vectors.consistency_probes)
      expect(check(c), `${c.desc} ${c.size1}->${c.size2}`).toBe(!c.want_error);
  });

  it("rejects every single-bit change of both roots and each proof element", async () => {
    const leaves = Array.from({ length: 41 }, (_, i) => leafHash(new TextEncoder().encode(`e${i}`)));
    const source = memoryNodeSource(leaves);
    const pairs: Array<[number, number]> = [
      [1, 2],
      [2, 3],
      [3, 4],
      [1, 8],
      [4, 8],
      [3, 7],
      [6, 8],
      [5, 13],
      [16, 17],
      [7, 41],
      [32, 41],
      [40, 41],
      [13, 29],
    ];
    let rejected = 0;
    for (const [m, n] of pairs) {
      const oldRoot = merkleRoot(leaves.slice(0, m));
      const newRoot = merkleRoot(leaves.slice(0, n));
      const proof = await buildConsistencyProof(source, m, n);
      expect(verifyConsistency(m, n, oldRoot, newRoot, proof)).toBe(true);
      for (const bad of bitFlips(oldRoot)) expect(verifyConsistency(m, n, bad, newRoot, proof)).toBe(false);
      for (const bad of bitFlips(newRoot)) expect(verifyConsistency(m, n, oldRoot, bad, proof)).toBe(false);
      for (let p = 0; p < proof.length; p++) {
        for (const bad of bitFlips(proof[p] as Uint8Array)) {
          expect(
            verifyConsistency(
              m,
              n,
              oldRoot,
              newRoot,
              proof.map((x, j) => (j === p ? bad : x)),
            ),
          ).toBe(false);
          rejected++;
        }
      }
      expect(verifyConsistency(m, n, oldRoot, newRoot, proof.slice(0, -1))).toBe(false);
      expect(verifyConsistency(m, n, oldRoot, newRoot, [...proof, newRoot])).toBe(false);
      expect(verifyConsistency(n, m, newRoot, oldRoot, proof)).toBe(false);
    }
    expect(rejected).toBeGreaterThan(5_000);
  });

  it("follows transparency-dev on the edge cases the RFC leaves open", () => {
    const r = merkleRoot([leafHash(new Uint8Array([1]))]);
    const empty = merkleRoot([]);
    expect(verifyConsistency(0, 0, empty, empty, [])).toBe(false);
    expect(verifyConsistency(0, 1, empty, r, [])).toBe(false);
    expect(verifyConsistency(1, 1, r, r, [])).toBe(true);
    expect(verifyConsistency(1, 1, r, r, [r])).toBe(false);
  });
});

describe("consistencyRanges", () => {
  it("follows RFC 6962 PROOF(3, D[7]) = [2,3) [3,4) [0,2) [4,7)", () => {
    expect(consistencyRanges(3, 7)).toEqual([
      { start: 2, end: 3 },
      { start: 3, end: 4 },
      { start: 0, end: 2 },
      { start: 4, end: 7 },
    ]);
    expect(consistencyRanges(4, 7)).toEqual([{ start: 4, end: 7 }]);
    expect(consistencyRanges(5, 5)).toEqual([]);
  });

  it("refuses a shrinking or empty old tree", () => {
    expect(() => consistencyRanges(0, 3)).toThrow(RangeError);
    expect(() => consistencyRanges(4, 3)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: no consistency proof from size 4 to size 3]`,
    );
  });
});
