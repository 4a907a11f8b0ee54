import {
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
  timestamp: bigint;
}

let orgCounter = 0;
const root = (size: bigint): Hex => keccak256(toHex(`root of ${size}`));

describe("AuditAnchor", () => {
  let f: ChainFixture;
  let relayer: ChainClients;
  let address: Address;

  beforeAll(async () => {
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
  const head = (node: Address, treeSize: bigint, timestamp = 1_700_000_000n + treeSize): TreeHead => ({
    node,
    treeSize,
    rootHash: root(treeSize),
    timestamp,
  });
  const sign = (signer: LocalAccount, th: TreeHead) =>
    signer.signTypedData({ domain: domain(), types: AUDIT_TYPES, primaryType: "TreeHead", message: th });
  const submit = (th: TreeHead, signature: Hex) =>
    relayer.walletClient.writeContract({ address, abi, functionName: "anchor", args: [th, signature] });
  const anchored = async (signer: LocalAccount, th: TreeHead) =>
    mined(relayer, submit(th, await sign(signer, th)));
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
    const th = head(randomAccount().address, 3n);
    expect(
      await relayer.publicClient.readContract({ address, abi, functionName: "treeHeadDigest", args: [th] }),
    ).toBe(hashTypedData({ domain: domain(), types: AUDIT_TYPES, primaryType: "TreeHead", message: th }));
  });

  it("anchors growing tree heads signed by a node, relayed by anyone", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    expect(await view.latest(node.address)).toEqual([0n, zeroHash, 0n]);

    const first = head(node.address, 10n);
    const receipt = await anchored(node, first);
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "TreeHeadAnchored" });
    expect(event?.args).toEqual(first);
    expect(await view.latest(node.address)).toEqual([10n, first.rootHash, first.timestamp]);

    const second = head(node.address, 25n);
    const secondReceipt = await anchored(node, second);
    expect(await view.latest(node.address)).toEqual([25n, second.rootHash, second.timestamp]);
    expect(await view.count(node.address)).toBe(2n);
    expect(await view.at(node.address, 0n)).toEqual({
      treeSize: 10n,
      timestamp: first.timestamp,
      blockNumber: receipt.blockNumber,
      rootHash: first.rootHash,
    });
    expect(await view.at(node.address, 1n)).toEqual({
      treeSize: 25n,
      timestamp: second.timestamp,
      blockNumber: secondReceipt.blockNumber,
      rootHash: second.rootHash,
    });
    expect(await view.rootAt(node.address, 10n)).toEqual([first.rootHash, first.timestamp]);
    expect(await view.rootAt(node.address, 25n)).toEqual([second.rootHash, second.timestamp]);
    expect(await view.rootAt(node.address, 11n)).toEqual([zeroHash, 0n]);
    await expectRevert(view.at(node.address, 2n), "AuditAnchorIndexOutOfBounds", [node.address, 2n, 2n]);
  });

  it("rejects a tree that did not grow, or a timestamp that went back", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    const empty = head(node.address, 0n);
    await expectRevert(submit(empty, await sign(node, empty)), "AuditAnchorSizeNotIncreased", [0n, 0n]);

    await anchored(node, head(node.address, 8n, 5000n));
    const same = head(node.address, 8n, 6000n);
    await expectRevert(submit(same, await sign(node, same)), "AuditAnchorSizeNotIncreased", [8n, 8n]);
    const shrunk = head(node.address, 7n, 6000n);
    await expectRevert(submit(shrunk, await sign(node, shrunk)), "AuditAnchorSizeNotIncreased", [8n, 7n]);
    const earlier = head(node.address, 9n, 4999n);
    await expectRevert(submit(earlier, await sign(node, earlier)), "AuditAnchorTimestampDecreased", [
      5000n,
      4999n,
    ]);
    // an equal timestamp is fine (several anchors within one second)
    await anchored(node, head(node.address, 9n, 5000n));
    expect(await view.count(node.address)).toBe(2n);
  });

  it("rejects tree heads from accounts that are not active nodes", async () => {
    const stranger = randomAccount();
    const th = head(stranger.address, 1n);
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
    const suspended = head(node.address, 1n);
    await expectRevert(submit(suspended, await sign(node, suspended)), "AuditAnchorUnknownNode", [
      node.address,
    ]);
  });

  it("rejects a tree head not signed by its node", async () => {
    const node = randomAccount();
    await registerNode(node.address);
    const th = head(node.address, 4n);
    await expectRevert(submit(th, await sign(randomAccount(), th)), "AuditAnchorInvalidSignature", [
      node.address,
    ]);
    const altered = { ...th, rootHash: root(99n) };
    await expectRevert(submit(altered, await sign(node, th)), "AuditAnchorInvalidSignature", [node.address]);
    expect(await view.count(node.address)).toBe(0n);
  });

  it("accepts a node that is an EIP-1271 contract wallet", async () => {
    const owner = randomAccount();
    const wallet = await deployWallet1271(relayer, owner.address);
    await registerNode(wallet);
    const th = head(wallet, 2n);
    await expectRevert(submit(th, await sign(randomAccount(), th)), "AuditAnchorInvalidSignature", [wallet]);
    await anchored(owner, th);
    expect(await view.latest(wallet)).toEqual([2n, th.rootHash, th.timestamp]);
  });
});
