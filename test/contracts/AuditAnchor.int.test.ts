import { readFileSync } from "node:fs";
import {
  bytesToHex,
  hashTypedData,
  keccak256,
  parseEventLogs,
  toHex,
  zeroHash,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConsistencyProof, verifyConsistency } from "../../src/audit/consistencyProof.js";
import { pushLeaf, textLeafHash, type EdgeNode } from "../../src/audit/serverHash.js";
import { foldSubtrees, frontierOf, type NodeSource } from "../../src/audit/subtrees.js";
import { auditAnchorAbi as abi } from "../../src/chain/artifacts/AuditAnchor.js";
import { participantRegistryAbi } from "../../src/chain/artifacts/ParticipantRegistry.js";
import type { ChainClients } from "../../src/chain/clients.js";
import { AUDIT_DOMAIN, AUDIT_TYPES } from "../../src/chain/eip712.js";
import {
  deployWallet1271,
  expectRevert,
  mined,
  randomAccount,
  startChainFixture,
  type ChainFixture,
} from "./chainFixture.js";

interface TreeHead {
  node: Address;
  treeSize: bigint;
  rootHash: Hex;
  mapRoot: Hex;
  timestamp: bigint;
}

/** A log of `size` synthetic entries, every complete subtree kept: roots and proofs for any size up to it. */
function syntheticLog(size: number) {
  const nodes = new Map<string, Uint8Array>();
  const edge: EdgeNode[] = [];
  for (let i = 0; i < size; i++) {
    const leaf = textLeafHash(`entry ${i}`);
    nodes.set(`0:${i}`, leaf);
    pushLeaf(edge, i, leaf).forEach((h, l) => nodes.set(`${l + 1}:${Math.floor(i / 2 ** (l + 1))}`, h));
  }
  const source: NodeSource = {
    nodes: (keys) => Promise.resolve(keys.map((k) => nodes.get(`${k.level}:${k.index}`) as Uint8Array)),
  };
  return {
    root: async (n: number): Promise<Hex> => bytesToHex(foldSubtrees(await source.nodes(frontierOf(n)))),
    proof: async (m: number, n: number): Promise<Hex[]> =>
      (await buildConsistencyProof(source, m, n)).map((h) => bytesToHex(h)),
  };
}

/**
 * The length of RFC 9162's PROOF(m, D[n]) (section 2.1.4.1), in bigints so that any uint64 size
 * works: an implementation independent of the contract's and of src/audit/consistencyProof.ts.
 */
function proofLength(m: bigint, n: bigint): bigint {
  let length = 0n;
  let complete = true;
  for (;;) {
    if (m === n) return length + (complete ? 0n : 1n);
    let k = 1n;
    while (k * 2n < n) k *= 2n;
    length += 1n;
    if (m <= k) n = k;
    else {
      m -= k;
      n -= k;
      complete = false;
    }
  }
}

/** True for the pairs below whose proof also verifies one size lower (so the liar test applies). */
const expected6 = (m: number, n: number): boolean => m === 6 && n === 13;

const flipBit = (h: Hex, bit: number): Hex => {
  const bytes = Buffer.from(h.slice(2), "hex");
  bytes[bit >> 3]! ^= 1 << (bit & 7);
  return `0x${bytes.toString("hex")}`;
};

/** Runs `tasks` at most `width` at a time. */
async function inBatches(tasks: Array<() => Promise<void>>, width = 8): Promise<void> {
  for (let i = 0; i < tasks.length; i += width) await Promise.all(tasks.slice(i, i + width).map((t) => t()));
}

const LOG_SIZE = 1 << 17;
const MAP_ROOT = keccak256(toHex("patient map"));
let orgCounter = 0;

describe("AuditAnchor", () => {
  let f: ChainFixture;
  let relayer: ChainClients;
  let address: Address;
  const log = syntheticLog(LOG_SIZE);
  let root: (size: bigint) => Promise<Hex>;

  beforeAll(async () => {
    const roots = new Map<bigint, Hex>();
    root = async (size) =>
      roots.get(size) ?? (roots.set(size, await log.root(Number(size))), roots.get(size)!);
    f = await startChainFixture();
    relayer = await f.connect();
    address = f.deployment.auditAnchor;
  });
  afterAll(async () => {
    await f?.stop();
  });

  /** Registers an organization whose node is `node`; returns its id. */
  async function registerNode(node: Address): Promise<Hex> {
    const orgId = keccak256(toHex(`audit-org-${++orgCounter}`));
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "registerOrganization",
        args: [orgId, "Lab", 3, "https://lab.example", node],
      }),
    );
    return orgId;
  }

  const domain = () => ({ ...AUDIT_DOMAIN, chainId: f.deployment.chainId, verifyingContract: address });
  const head = async (
    node: Address,
    treeSize: bigint,
    timestamp = 1_700_000_000n + treeSize,
  ): Promise<TreeHead> => ({
    node,
    treeSize,
    rootHash: treeSize === 0n ? zeroHash : await root(treeSize),
    mapRoot: MAP_ROOT,
    timestamp,
  });
  const sign = (signer: LocalAccount, th: TreeHead) =>
    signer.signTypedData({ domain: domain(), types: AUDIT_TYPES, primaryType: "TreeHead", message: th });
  const submit = (th: TreeHead, signature: Hex, proof: readonly Hex[] = []) =>
    relayer.walletClient.writeContract({
      address,
      abi,
      functionName: "anchor",
      args: [th, signature, proof],
    });
  /** The anchor as an eth_call: reverts as the transaction would, mines nothing. */
  const simulate = (th: TreeHead, signature: Hex, proof: readonly Hex[] = []) =>
    relayer.publicClient.simulateContract({
      address,
      abi,
      functionName: "anchor",
      args: [th, signature, proof],
      account: relayer.account,
    });
  const anchored = async (signer: LocalAccount, th: TreeHead, proof: readonly Hex[] = []) =>
    mined(relayer, submit(th, await sign(signer, th), proof));
  /** A registered node with its first head anchored at `size`. */
  const nodeAnchoredAt = async (size: bigint): Promise<LocalAccount> => {
    const node = randomAccount();
    await registerNode(node.address);
    await anchored(node, await head(node.address, size));
    return node;
  };
  const view = {
    latest: (node: Address) =>
      relayer.publicClient.readContract({ address, abi, functionName: "latest", args: [node] }),
    count: (node: Address) =>
      relayer.publicClient.readContract({ address, abi, functionName: "anchorCount", args: [node] }),
    at: (node: Address, i: bigint) =>
      relayer.publicClient.readContract({ address, abi, functionName: "anchorAt", args: [node, i] }),
    rootAt: (node: Address, size: bigint) =>
      relayer.publicClient.readContract({ address, abi, functionName: "rootAt", args: [node, size] }),
  };

  it("knows its registry and signs over the EIP-712 TreeHead type", async () => {
    expect(await relayer.publicClient.readContract({ address, abi, functionName: "registry" })).toBe(
      f.deployment.participantRegistry,
    );
    const th = await head(randomAccount().address, 3n);
    expect(
      await relayer.publicClient.readContract({ address, abi, functionName: "treeHeadDigest", args: [th] }),
    ).toBe(hashTypedData({ domain: domain(), types: AUDIT_TYPES, primaryType: "TreeHead", message: th }));
  });

  it("anchors growing tree heads signed by a node, relayed by anyone", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    expect(await view.latest(node.address)).toEqual([0n, zeroHash, zeroHash, 0n]);

    const first = await head(node.address, 10n);
    const receipt = await anchored(node, first);
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "TreeHeadAnchored" });
    expect(event?.args).toEqual(first);
    expect(await view.latest(node.address)).toEqual([10n, first.rootHash, MAP_ROOT, first.timestamp]);

    const second = await head(node.address, 25n);
    const secondReceipt = await anchored(node, second, await log.proof(10, 25));
    expect(await view.latest(node.address)).toEqual([25n, second.rootHash, MAP_ROOT, second.timestamp]);
    expect(await view.count(node.address)).toBe(2n);
    expect(await view.at(node.address, 0n)).toEqual({
      treeSize: 10n,
      timestamp: first.timestamp,
      blockNumber: receipt.blockNumber,
      rootHash: first.rootHash,
      mapRoot: MAP_ROOT,
    });
    expect(await view.at(node.address, 1n)).toEqual({
      treeSize: 25n,
      timestamp: second.timestamp,
      blockNumber: secondReceipt.blockNumber,
      rootHash: second.rootHash,
      mapRoot: MAP_ROOT,
    });
    expect(await view.rootAt(node.address, 10n)).toEqual([first.rootHash, MAP_ROOT, first.timestamp]);
    expect(await view.rootAt(node.address, 25n)).toEqual([second.rootHash, MAP_ROOT, second.timestamp]);
    expect(await view.rootAt(node.address, 11n)).toEqual([zeroHash, zeroHash, 0n]);
    await expectRevert(view.at(node.address, 2n), "AuditAnchorIndexOutOfBounds", [node.address, 2n, 2n]);
  });

  it("rejects a tree that did not grow, or a timestamp that went back", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    const empty = await head(node.address, 0n);
    await expectRevert(submit(empty, await sign(node, empty)), "AuditAnchorSizeNotIncreased", [0n, 0n]);

    await anchored(node, await head(node.address, 8n, 5000n));
    const same = await head(node.address, 8n, 6000n);
    await expectRevert(submit(same, await sign(node, same)), "AuditAnchorSizeNotIncreased", [8n, 8n]);
    const shrunk = await head(node.address, 7n, 6000n);
    await expectRevert(submit(shrunk, await sign(node, shrunk)), "AuditAnchorSizeNotIncreased", [8n, 7n]);
    const earlier = await head(node.address, 9n, 4999n);
    await expectRevert(
      submit(earlier, await sign(node, earlier), await log.proof(8, 9)),
      "AuditAnchorTimestampDecreased",
      [5000n, 4999n],
    );
    // an equal timestamp is fine (several anchors within one second)
    await anchored(node, await head(node.address, 9n, 5000n), await log.proof(8, 9));
    expect(await view.count(node.address)).toBe(2n);
  });

  it("rejects tree heads from accounts that are not active nodes", async () => {
    const stranger = randomAccount();
    const th = await head(stranger.address, 1n);
    await expectRevert(submit(th, await sign(stranger, th)), "AuditAnchorUnknownNode", [stranger.address]);

    const node = randomAccount();
    const orgId = await registerNode(node.address);
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "setOrganizationActive",
        args: [orgId, false],
      }),
    );
    const suspended = await head(node.address, 1n);
    await expectRevert(submit(suspended, await sign(node, suspended)), "AuditAnchorUnknownNode", [
      node.address,
    ]);
  });

  it("rejects a tree head not signed by its node", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    const th = await head(node.address, 4n);
    await expectRevert(submit(th, await sign(randomAccount(), th)), "AuditAnchorInvalidSignature", [
      node.address,
    ]);
    const altered = { ...th, rootHash: await root(99n) };
    await expectRevert(submit(altered, await sign(node, th)), "AuditAnchorInvalidSignature", [node.address]);
    const otherMap = { ...th, mapRoot: zeroHash };
    await expectRevert(submit(otherMap, await sign(node, th)), "AuditAnchorInvalidSignature", [node.address]);
    await expectRevert(submit(altered, await sign(node, th)), "AuditAnchorInvalidSignature", [node.address]);
    expect(await view.count(node.address)).toBe(0n);
  });

  it("accepts a node that is an EIP-1271 contract wallet", async () => {
    const owner = randomAccount();
    const wallet = await deployWallet1271(relayer, owner.address);
    await registerNode(wallet);
    const th = await head(wallet, 2n);
    await expectRevert(submit(th, await sign(randomAccount(), th)), "AuditAnchorInvalidSignature", [wallet]);
    await anchored(owner, th);
    expect(await view.latest(wallet)).toEqual([2n, th.rootHash, MAP_ROOT, th.timestamp]);
  });

  it("takes a node's first head without a proof, and refuses one with", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    const th = await head(node.address, 5n);
    await expectRevert(simulate(th, await sign(node, th), [zeroHash]), "AuditAnchorBadProofLength", [
      0n,
      5n,
      1n,
      0n,
    ]);
    await anchored(node, th);
  });

  it("verifies the RFC 6962 consistency vectors, valid and invalid", async () => {
    const vectors = JSON.parse(readFileSync("test/fixtures/merkle/vectors.json", "utf8")) as {
      consistency_proofs: Array<{
        size1: number;
        size2: number;
        root1_hex: string;
        root2_hex: string;
        proof_hex: string[];
        expected: string;
      }>;
    };
    const cases = vectors.consistency_proofs.filter((c) => c.size1 >= 1 && c.size1 < c.size2);
    expect(cases.length).toBeGreaterThanOrEqual(3);
    for (const c of cases) {
      const call = relayer.publicClient.readContract({
        address,
        abi,
        functionName: "verifyConsistency",
        args: [
          BigInt(c.size1),
          BigInt(c.size2),
          `0x${c.root1_hex}`,
          `0x${c.root2_hex}`,
          c.proof_hex.map((h) => `0x${h}` as Hex),
        ],
      });
      if (c.expected === "valid") await call;
      else await expect(call).rejects.toThrow(/AuditAnchor(Inconsistent|BadProofLength)/);
    }
  });

  it("accepts a valid consistency proof at every pair of sizes 1..64", async () => {
    const nodes = new Map<number, LocalAccount>();
    for (let m = 1; m < 64; m++) nodes.set(m, await nodeAnchoredAt(BigInt(m)));
    const tasks: Array<() => Promise<void>> = [];
    let checked = 0;
    for (let m = 1; m < 64; m++) {
      for (let n = m + 1; n <= 64; n++) {
        tasks.push(async () => {
          const node = nodes.get(m)!;
          const th = await head(node.address, BigInt(n));
          const proof = await log.proof(m, n);
          expect(
            await relayer.publicClient.readContract({
              address,
              abi,
              functionName: "consistencyProofLength",
              args: [BigInt(m), BigInt(n)],
            }),
          ).toBe(BigInt(proof.length));
          await simulate(th, await sign(node, th), proof);
          checked++;
        });
      }
    }
    await inBatches(tasks);
    expect(checked).toBe((63 * 64) / 2);
    // and one of them for real: the size moves on
    const node = nodes.get(37)!;
    await anchored(node, await head(node.address, 64n), await log.proof(37, 64));
    expect((await view.latest(node.address))[0]).toBe(64n);
  }, 240_000);

  it("accepts valid proofs between random larger sizes, anchor after anchor", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    let seed = 0x5eed;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 1 + (seed % below);
    };
    const sizes = new Set<number>();
    while (sizes.size < 12) sizes.add(64 + random(LOG_SIZE - 64));
    const sorted = [...sizes].sort((a, b) => a - b);
    await anchored(node, await head(node.address, BigInt(sorted[0]!)));
    for (let i = 1; i < sorted.length; i++) {
      const th = await head(node.address, BigInt(sorted[i]!));
      await anchored(node, th, await log.proof(sorted[i - 1]!, sorted[i]!));
    }
    expect(await view.count(node.address)).toBe(BigInt(sorted.length));
    expect(await view.latest(node.address)).toEqual([
      BigInt(sorted.at(-1)!),
      await root(BigInt(sorted.at(-1)!)),
      MAP_ROOT,
      1_700_000_000n + BigInt(sorted.at(-1)!),
    ]);
  });

  describe.each([
    [6, 13],
    [8, 13],
    [1000, 70_001],
  ])("from size %i to size %i, every single-bit change is refused by name", (m, n) => {
    let node: LocalAccount;
    let good: TreeHead;
    let proof: Hex[];
    beforeAll(async () => {
      node = await nodeAnchoredAt(BigInt(m));
      good = await head(node.address, BigInt(n));
      proof = await log.proof(m, n);
      await simulate(good, await sign(node, good), proof);
    });

    it("of a proof hash", async () => {
      const tasks: Array<() => Promise<void>> = [];
      const signature = await sign(node, good);
      for (let i = 0; i < proof.length; i++)
        for (let bit = 0; bit < 256; bit++)
          tasks.push(async () => {
            const bad = proof.map((h, j) => (j === i ? flipBit(h, bit) : h));
            await expectRevert(simulate(good, signature, bad), "AuditAnchorInconsistent", [
              BigInt(m),
              BigInt(n),
            ]);
          });
      await inBatches(tasks);
      expect(tasks.length).toBe(proof.length * 256);
    }, 240_000);

    it("of the new root (signed by the node) and of the anchored root", async () => {
      const tasks: Array<() => Promise<void>> = [];
      const oldRoot = await root(BigInt(m));
      for (let bit = 0; bit < 256; bit++) {
        tasks.push(async () => {
          const th = { ...good, rootHash: flipBit(good.rootHash, bit) };
          await expectRevert(simulate(th, await sign(node, th), proof), "AuditAnchorInconsistent", [
            BigInt(m),
            BigInt(n),
          ]);
        });
        tasks.push(async () => {
          await expectRevert(
            relayer.publicClient.readContract({
              address,
              abi,
              functionName: "verifyConsistency",
              args: [BigInt(m), BigInt(n), flipBit(oldRoot, bit), good.rootHash, proof],
            }),
            "AuditAnchorInconsistent",
            [BigInt(m), BigInt(n)],
          );
        });
      }
      await inBatches(tasks);
    }, 240_000);

    it("of the new size (relayed, or signed by the node) and of the anchored size", async () => {
      const oldRoot = await root(BigInt(m));
      /**
       * What the contract must answer for this proof from `from` to `to`. A consistency proof
       * binds the new root, not the new size: sizes whose proof has the same shape as `n`'s
       * verify (RFC 9162 2.1.4.2; from 6 to 13, also 9, 12 and 15). Only the node's signature
       * binds its size (and a node that signs a wrong one can never anchor again, below).
       */
      const expected = (from: bigint, to: bigint): [string, unknown[]] | "same-shape" => {
        if (from === 0n || to <= from) return ["AuditAnchorSizeNotIncreased", [from, to]];
        const want = proofLength(from, to);
        if (want !== BigInt(proof.length))
          return ["AuditAnchorBadProofLength", [from, to, BigInt(proof.length), want]];
        if (verifyConsistency(Number(from), Number(to), oldRoot, good.rootHash, proof)) return "same-shape";
        return ["AuditAnchorInconsistent", [from, to]];
      };
      const signature = await sign(node, good);
      const sameShape: bigint[] = [];
      const tasks: Array<() => Promise<void>> = [];
      for (let bit = 0; bit < 64; bit++) {
        const to = BigInt(n) ^ (1n << BigInt(bit));
        const from = BigInt(m) ^ (1n << BigInt(bit));
        tasks.push(async () => {
          const th = { ...good, treeSize: to };
          await expectRevert(simulate(th, signature, proof), "AuditAnchorInvalidSignature", [node.address]);
          const verdict = expected(BigInt(m), to);
          if (verdict === "same-shape") {
            sameShape.push(to);
            await simulate(th, await sign(node, th), proof);
          } else await expectRevert(simulate(th, await sign(node, th), proof), verdict[0], verdict[1]);
        });
        tasks.push(async () => {
          const verdict = expected(from, BigInt(n));
          expect(verdict).not.toBe("same-shape");
          const [name, args] = verdict as [string, unknown[]];
          await expectRevert(
            relayer.publicClient.readContract({
              address,
              abi,
              functionName: "verifyConsistency",
              args: [from, BigInt(n), oldRoot, good.rootHash, proof],
            }),
            name,
            args,
          );
        });
      }
      await inBatches(tasks);
      if (m === 6) expect(sameShape.sort((a, b) => Number(a - b))).toEqual([9n, 12n, 15n]);
    }, 240_000);

    it("leaves a node that signed a wrong size unable to anchor again", async () => {
      const liar = await nodeAnchoredAt(BigInt(m));
      const wrong = { ...good, node: liar.address, treeSize: BigInt(n) - 1n };
      if (expected6(m, n)) {
        await anchored(liar, wrong, proof);
        const next = await head(liar.address, BigInt(n) + 7n);
        await expectRevert(
          simulate(next, await sign(liar, next), await log.proof(n - 1, n + 7)),
          "AuditAnchorInconsistent",
          [BigInt(n) - 1n, BigInt(n) + 7n],
        );
      }
    });
  });
});
