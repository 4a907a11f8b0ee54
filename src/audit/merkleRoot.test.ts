import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EMPTY_ROOT, leafHash, nodeHash } from "./merkleHash.js";
import { merkleRoot, memoryNodeSource } from "./merkleRoot.js";
import { buildInclusionProof } from "./inclusionProof.js";
import { buildConsistencyProof } from "./consistencyProof.js";
import { foldSubtrees, frontierOf } from "./subtrees.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../test/fixtures/merkle/vectors.json", import.meta.url), "utf8"),
) as {
  leaves_hex: string[];
  leaf_hashes_hex: string[];
  roots: Array<{ tree_size: number; root_hex: string }>;
};

// An independent implementation, straight from RFC 6962 section 2.1 on arrays, with node:crypto.
const sha = (...parts: Buffer[]): Buffer => createHash("sha256").update(Buffer.concat(parts)).digest();
const refLeaf = (d: Buffer): Buffer => sha(Buffer.from([0]), d);
const refNode = (l: Buffer, r: Buffer): Buffer => sha(Buffer.from([1]), l, r);
const kOf = (n: number): number => 2 ** Math.ceil(Math.log2(n) - 1);
const memo = new WeakMap<Buffer, Map<number, Buffer>>(); // first leaf -> length -> MTH
function refMth(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return refLeaf(d[0] as Buffer);
  const byLength = memo.get(d[0] as Buffer) ?? new Map<number, Buffer>();
  memo.set(d[0] as Buffer, byLength);
  const cached = byLength.get(d.length);
  if (cached) return cached;
  const k = kOf(d.length);
  const root = refNode(refMth(d.slice(0, k)), refMth(d.slice(k)));
  byLength.set(d.length, root);
  return root;
}
function refPath(m: number, d: Buffer[]): Buffer[] {
  if (d.length === 1) return [];
  const k = kOf(d.length);
  return m < k
    ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}
function refSubproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = kOf(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("merkleHash", () => {
  it("hashes leaves and nodes with the RFC 9162 prefixes", () => {
    expect(hex(EMPTY_ROOT)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(leafHash(new Uint8Array()))).toBe(
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    );
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(hex(nodeHash(a, b))).toBe(hex(refNode(a, b)));
    expect(hex(nodeHash(a, b))).not.toBe(hex(nodeHash(b, a)));
  });
});

describe("merkleRoot", () => {
  it("computes hand-built roots for sizes 0..9", () => {
    const l = Array.from({ length: 9 }, (_, i) => leafHash(new Uint8Array([i])));
    const [l0, l1, l2, l3, l4, l5, l6, l7, l8] = l as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    const h = nodeHash;
    const n01 = h(l0, l1);
    const n23 = h(l2, l3);
    const n45 = h(l4, l5);
    const n67 = h(l6, l7);
    const n0123 = h(n01, n23);
    const n4567 = h(n45, n67);
    const expected = [
      createHash("sha256").digest(),
      l0,
      n01,
      h(n01, l2),
      n0123,
      h(n0123, l4),
      h(n0123, n45),
      h(n0123, h(n45, l6)),
      h(n0123, n4567),
      h(h(n0123, n4567), l8),
    ];
    expected.forEach((root, size) =>
      expect(hex(merkleRoot(l.slice(0, size))), `size ${size}`).toBe(hex(root)),
    );
  });

  it("matches the published RFC 6962 roots and leaf hashes", () => {
    const leaves = vectors.leaves_hex.map((x) => Buffer.from(x, "hex"));
    expect(leaves.map((d) => hex(leafHash(d)))).toEqual(vectors.leaf_hashes_hex);
    for (const { tree_size, root_hex } of vectors.roots) {
      expect(hex(merkleRoot(leaves.slice(0, tree_size).map(leafHash)))).toBe(root_hex);
    }
    expect(vectors.roots).toHaveLength(9);
  });

  it("agrees with the independent implementation on random trees", () => {
    for (let trial = 0; trial < 40; trial++) {
      const n = trial < 20 ? trial : 1 + Math.floor(Math.random() * 300);
      const data = Array.from({ length: n }, () => randomBytes(Math.floor(Math.random() * 40)));
      expect(hex(merkleRoot(data.map(leafHash))), `size ${n}`).toBe(hex(refMth(data)));
    }
  });

  it("folds the frontier of every size into the root", () => {
    const data = Array.from({ length: 70 }, (_, i) => Buffer.from(`entry ${i}`));
    const leaves = data.map(leafHash);
    const source = memoryNodeSource(leaves);
    for (let n = 1; n <= 70; n++) {
      const parts = frontierOf(n).map((k) =>
        merkleRoot(leaves.slice(k.index * 2 ** k.level, (k.index + 1) * 2 ** k.level)),
      );
      expect(hex(foldSubtrees(parts))).toBe(hex(refMth(data.slice(0, n))));
    }
    expect(() => source.nodes([{ level: 7, index: 0 }])).toThrow(RangeError);
  });
});

describe("proof builders against the independent implementation", () => {
  const data = Array.from({ length: 64 }, (_, i) => Buffer.from(`leaf-${i}`));
  const source = memoryNodeSource(data.map(leafHash));

  it("builds RFC 6962 PATH for every (index, size) up to 64", async () => {
    let pairs = 0;
    for (let n = 1; n <= 64; n++) {
      for (let m = 0; m < n; m++) {
        const proof = await buildInclusionProof(source, m, n);
        expect(proof.map(hex)).toEqual(refPath(m, data.slice(0, n)).map(hex));
        pairs++;
      }
    }
    expect(pairs).toBe((64 * 65) / 2);
  });

  it("builds RFC 6962 PROOF for every (size1, size2) up to 64", async () => {
    for (let n = 1; n <= 64; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = await buildConsistencyProof(source, m, n);
        expect(proof.map(hex), `${m} -> ${n}`).toEqual(refSubproof(m, data.slice(0, n), true).map(hex));
      }
    }
  });
});
