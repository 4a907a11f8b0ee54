import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { leafHash } from "./merkleHash.js";
import { merkleRoot, memoryNodeSource } from "./merkleRoot.js";
import { buildInclusionProof, inclusionRanges, verifyInclusion } from "./inclusionProof.js";

interface InclusionCase {
  desc?: string;
  leaf_index: number;
  tree_size: number;
  leaf_hash_hex: string;
  proof_hex: string[];
  root_hex: string;
  expected?: string;
  want_error?: boolean;
}
const vectors = JSON.parse(
  readFileSync(new URL("../../test/fixtures/merkle/vectors.json", import.meta.url), "utf8"),
) as {
  inclusion_proofs: InclusionCase[];
  inclusion_probes: InclusionCase[];
  derived: { inclusion_proofs: InclusionCase[] };
};
const b = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const check = (c: InclusionCase): boolean =>
  verifyInclusion(b(c.leaf_hash_hex), c.leaf_index, c.tree_size, c.proof_hex.map(b), b(c.root_hex));

/** Every single-bit change of `bytes`, one at a time. */
function* bitFlips(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length * 8; i++) {
    const copy = Uint8Array.from(bytes);
    copy[i >> 3] = (copy[i >> 3] as number) ^ (1 << (i & 7));
    yield copy;
  }
}

describe("verifyInclusion", () => {
  it("accepts the published RFC 6962 inclusion proofs", () => {
    expect(vectors.inclusion_proofs).toHaveLength(5);
    for (const c of vectors.inclusion_proofs) expect(check(c), JSON.stringify(c)).toBe(true);
  });

  it("accepts the derived proofs for every (index, size) up to 8", () => {
    expect(vectors.derived.inclusion_proofs).toHaveLength(36);
    for (const c of vectors.derived.inclusion_proofs) expect(check(c)).toBe(true);
  });

  it("answers every transparency-dev probe as published", () => {
    expect(vectors.inclusion_probes).toHaveLength(98);
    for (const c of vectors.inclusion_probes)
      expect(check(c), `${c.desc} ${c.leaf_index}/${c.tree_size}`).toBe(!c.want_error);
  });

  it("accepts hex input and rejects malformed hashes without throwing", () => {
    const c = vectors.inclusion_proofs[1] as InclusionCase;
    expect(
      verifyInclusion(
        `0x${c.leaf_hash_hex}`,
        c.leaf_index,
        c.tree_size,
        c.proof_hex.map((p) => `0x${p}` as const),
        `0x${c.root_hex}`,
      ),
    ).toBe(true);
    expect(verifyInclusion("0x1234", c.leaf_index, c.tree_size, c.proof_hex.map(b), b(c.root_hex))).toBe(
      false,
    );
    expect(verifyInclusion(b(c.leaf_hash_hex), -1, c.tree_size, c.proof_hex.map(b), b(c.root_hex))).toBe(
      false,
    );
    expect(verifyInclusion(b(c.leaf_hash_hex), 0.5, c.tree_size, c.proof_hex.map(b), b(c.root_hex))).toBe(
      false,
    );
    expect(
      verifyInclusion(
        b(c.leaf_hash_hex),
        c.leaf_index,
        c.tree_size,
        [...c.proof_hex.map(b), new Uint8Array(31)],
        b(c.root_hex),
      ),
    ).toBe(false);
  });

  it("rejects every single-bit change of leaf, root and each proof element", async () => {
    const leaves = Array.from({ length: 37 }, (_, i) => leafHash(new TextEncoder().encode(`e${i}`)));
    const source = memoryNodeSource(leaves);
    const pairs: Array<[number, number]> = [
      [0, 1],
      [0, 2],
      [1, 2],
      [2, 3],
      [4, 5],
      [0, 8],
      [7, 8],
      [3, 7],
      [5, 6],
      [12, 13],
      [0, 37],
      [36, 37],
      [31, 37],
      [32, 37],
      [17, 33],
    ];
    let rejected = 0;
    for (const [index, size] of pairs) {
      const root = merkleRoot(leaves.slice(0, size));
      const proof = await buildInclusionProof(source, index, size);
      const leaf = leaves[index] as Uint8Array;
      expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
      for (const bad of bitFlips(leaf)) expect(verifyInclusion(bad, index, size, proof, root)).toBe(false);
      for (const bad of bitFlips(root)) expect(verifyInclusion(leaf, index, size, proof, bad)).toBe(false);
      for (let p = 0; p < proof.length; p++) {
        for (const bad of bitFlips(proof[p] as Uint8Array)) {
          const changed = proof.map((x, j) => (j === p ? bad : x));
          expect(verifyInclusion(leaf, index, size, changed, root)).toBe(false);
          rejected++;
        }
      }
      if (size > 1) {
        expect(verifyInclusion(leaf, index, size, proof.slice(1), root)).toBe(false);
        expect(verifyInclusion(leaf, index, size, [...proof, root], root)).toBe(false);
        expect(verifyInclusion(leaf, index ^ 1, size, proof, root)).toBe(false);
      }
    }
    expect(rejected).toBeGreaterThan(10_000);
  });
});

describe("inclusionRanges", () => {
  it("names the leaf's sibling first and the largest subtree last", () => {
    expect(inclusionRanges(2, 7)).toEqual([
      { start: 3, end: 4 },
      { start: 0, end: 2 },
      { start: 4, end: 7 },
    ]);
    expect(inclusionRanges(0, 1)).toEqual([]);
  });

  it("refuses an index outside the tree", () => {
    expect(() => inclusionRanges(3, 3)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: no inclusion proof for leaf 3 in a tree of size 3]`,
    );
  });
});
