import type { Address, Hex, PublicClient } from "viem";
import { auditAnchorAbi } from "../chain/artifacts/AuditAnchor.js";

/** A tree head as the AuditAnchor contract holds it. */
export interface OnChainAnchor {
  treeSize: number;
  rootHash: Hex;
  mapRoot: Hex;
  timestamp: number;
  blockNumber: number;
}

type Reader = Pick<PublicClient, "readContract">;

/** Every tree head a node anchored, oldest first, read from the ledger (not from the node). */
export async function readAnchors(
  client: Reader,
  auditAnchor: Address,
  node: Address,
): Promise<OnChainAnchor[]> {
  const count = (await client.readContract({
    address: auditAnchor,
    abi: auditAnchorAbi,
    functionName: "anchorCount",
    args: [node],
  })) as bigint;
  const out: OnChainAnchor[] = [];
  for (let i = 0n; i < count; i++) {
    const a = (await client.readContract({
      address: auditAnchor,
      abi: auditAnchorAbi,
      functionName: "anchorAt",
      args: [node, i],
    })) as {
      treeSize: bigint;
      rootHash: Hex;
      mapRoot: Hex;
      timestamp: bigint;
      blockNumber: bigint;
    };
    out.push({
      treeSize: Number(a.treeSize),
      rootHash: a.rootHash,
      mapRoot: a.mapRoot,
      timestamp: Number(a.timestamp),
      blockNumber: Number(a.blockNumber),
    });
  }
  return out;
}

/** The root a node anchored at exactly `treeSize`, or undefined if it never did. */
export async function anchoredRoot(
  client: Reader,
  auditAnchor: Address,
  node: Address,
  treeSize: number,
): Promise<Hex | undefined> {
  return (await anchoredRoots(client, auditAnchor, node, treeSize))?.rootHash;
}

/**
 * The log root and patient-map root a node anchored at exactly `treeSize`, read from the ledger.
 * @returns both roots, or undefined if the node never anchored that size
 */
export async function anchoredRoots(
  client: Reader,
  auditAnchor: Address,
  node: Address,
  treeSize: number,
): Promise<{ rootHash: Hex; mapRoot: Hex } | undefined> {
  const [rootHash, mapRoot] = await client.readContract({
    address: auditAnchor,
    abi: auditAnchorAbi,
    functionName: "rootAt",
    args: [node, BigInt(treeSize)],
  });
  return /^0x0{64}$/.test(rootHash) ? undefined : { rootHash, mapRoot };
}

/**
 * The latest head a node anchored, read from the ledger.
 * @returns size, roots and timestamp; undefined when the node never anchored
 */
export async function latestAnchor(
  client: Reader,
  auditAnchor: Address,
  node: Address,
): Promise<{ treeSize: number; rootHash: Hex; mapRoot: Hex; timestamp: number } | undefined> {
  const [treeSize, rootHash, mapRoot, timestamp] = await client.readContract({
    address: auditAnchor,
    abi: auditAnchorAbi,
    functionName: "latest",
    args: [node],
  });
  if (treeSize === 0n) return undefined;
  return { treeSize: Number(treeSize), rootHash, mapRoot, timestamp: Number(timestamp) };
}
