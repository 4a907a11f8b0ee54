/**
 * Signed tree heads: the node's EIP-712 signature over (node, treeSize, rootHash, mapRoot, timestamp) in
 * the AuditAnchor contract's domain, which is what gets anchored on chain. Pure viem, no `node:`
 * imports, so a browser can verify a head too. https://eips.ethereum.org/EIPS/eip-712
 */
import {
  hashTypedData,
  isAddressEqual,
  recoverTypedDataAddress,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { AUDIT_DOMAIN, AUDIT_TYPES } from "../chain/eip712.js";

/** What a node signs about its log (RFC 9162 section 4.10, minus extensions). */
export interface TreeHead {
  node: Address;
  treeSize: number;
  rootHash: Hex;
  /** Root of the patient map at `treeSize` (src/audit/patientMapProof.ts). */
  mapRoot: Hex;
  /** Unix seconds. */
  timestamp: number;
}

export interface SignedTreeHead extends TreeHead {
  signature: Hex;
}

/** The deployment-specific half of the EIP-712 domain. */
export interface TreeHeadDomain {
  chainId: number;
  /** Address of the AuditAnchor contract. */
  verifyingContract: Address;
}

/** Anything that signs typed data for an address (a viem local account, for instance). */
export type TreeHeadSigner = Pick<LocalAccount, "address" | "signTypedData">;

/**
 * The EIP-712 typed data of a tree head, as the AuditAnchor contract hashes it.
 * @param head - the tree head
 * @param domain - chain id and AuditAnchor address
 * @returns viem typed-data parameters. https://eips.ethereum.org/EIPS/eip-712
 */
export function treeHeadTypedData(head: TreeHead, domain: TreeHeadDomain) {
  return {
    domain: { ...AUDIT_DOMAIN, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    types: AUDIT_TYPES,
    primaryType: "TreeHead" as const,
    message: {
      node: head.node,
      treeSize: BigInt(head.treeSize),
      rootHash: head.rootHash,
      mapRoot: head.mapRoot,
      timestamp: BigInt(head.timestamp),
    },
  };
}

/**
 * The EIP-712 digest of a tree head (what the contract recovers the signer from).
 * @param head - the tree head
 * @param domain - chain id and AuditAnchor address
 * @returns the 32-byte digest. https://eips.ethereum.org/EIPS/eip-712
 */
export function treeHeadDigest(head: TreeHead, domain: TreeHeadDomain): Hex {
  return hashTypedData(treeHeadTypedData(head, domain));
}

/**
 * Signs a tree head as `signer`, which becomes the head's `node`.
 * @param signer - the node's account
 * @param head - size, root and timestamp
 * @param domain - chain id and AuditAnchor address
 * @returns the signed head. https://eips.ethereum.org/EIPS/eip-712
 */
export async function signTreeHead(
  signer: TreeHeadSigner,
  head: Omit<TreeHead, "node">,
  domain: TreeHeadDomain,
): Promise<SignedTreeHead> {
  const full: TreeHead = {
    node: signer.address,
    treeSize: head.treeSize,
    rootHash: head.rootHash,
    mapRoot: head.mapRoot,
    timestamp: head.timestamp,
  };
  const signature = await signer.signTypedData(treeHeadTypedData(full, domain));
  return { ...full, signature };
}

/**
 * Checks that a head was signed by its `node` in this domain (EOA signatures). Never throws.
 * @param head - the signed head
 * @param domain - chain id and AuditAnchor address
 * @returns true when the recovered signer is `head.node`. https://eips.ethereum.org/EIPS/eip-712
 */
export async function verifyTreeHead(head: SignedTreeHead, domain: TreeHeadDomain): Promise<boolean> {
  try {
    const signer = await recoverTypedDataAddress({
      ...treeHeadTypedData(head, domain),
      signature: head.signature,
    });
    return isAddressEqual(signer, head.node);
  } catch {
    return false;
  }
}
