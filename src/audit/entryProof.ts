import { hexToBytes, type Address, type Hex, type PublicClient } from "viem";
import { anchoredRoot } from "./chainAnchors.js";
import { entryLeafHash } from "./auditEntry.js";
import { verifyInclusion } from "./inclusionProof.js";

/**
 * What a patient receives for one access-log entry: the canonical entry text, its index, and an
 * inclusion proof to a tree head the node anchored on the ledger. Self-contained: a verifier
 * needs only this and a ledger connection, nothing from the node.
 */
export interface EntryProof {
  node: Address;
  index: number;
  /** The canonical JSON (RFC 8785) that is the Merkle leaf. */
  entry: string;
  treeSize: number;
  rootHash: Hex;
  /** Audit path, leaf to root (RFC 9162 section 2.1.3). */
  proof: Hex[];
}

export type EntryProofVerdict =
  | { ok: true; anchoredRoot: Hex }
  | { ok: false; reason: "proof-does-not-match-root" | "root-not-anchored" | "root-differs-from-ledger" };

/**
 * Checks entry -> inclusion proof -> root -> the root anchored on the ledger for that node and
 * tree size. Runs anywhere viem runs (CLI, browser).
 * @param p - the entry and its proof
 * @param client - any client that can read the AuditAnchor contract
 * @param auditAnchor - the contract's address
 */
export async function verifyEntryProof(
  p: EntryProof,
  client: Pick<PublicClient, "readContract">,
  auditAnchor: Address,
): Promise<EntryProofVerdict> {
  const leaf = entryLeafHash(p.entry);
  const proof = p.proof.map((h) => hexToBytes(h));
  if (!verifyInclusion(leaf, p.index, p.treeSize, proof, hexToBytes(p.rootHash)))
    return { ok: false, reason: "proof-does-not-match-root" };
  const onChain = await anchoredRoot(client, auditAnchor, p.node, p.treeSize);
  if (!onChain) return { ok: false, reason: "root-not-anchored" };
  if (onChain.toLowerCase() !== p.rootHash.toLowerCase())
    return { ok: false, reason: "root-differs-from-ledger" };
  return { ok: true, anchoredRoot: onChain };
}
