import type { Address, Hex, PublicClient } from "viem";
import { auditAnchorAbi } from "../chain/artifacts/AuditAnchor.js";

/** A tree head as the AuditAnchor contract holds it. */
export interface OnChainAnchor {
  treeSize: number;
  rootHash: Hex;
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
      timestamp: bigint;
      blockNumber: bigint;
    };
    out.push({
      treeSize: Number(a.treeSize),
      rootHash: a.rootHash,
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
  const [root] = (await client.readContract({
    address: auditAnchor,
    abi: auditAnchorAbi,
    functionName: "rootAt",
    args: [node, BigInt(treeSize)],
  })) as readonly [Hex, bigint];
  return /^0x0{64}$/.test(root) ? undefined : root;
}
