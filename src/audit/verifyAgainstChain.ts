import type { Address, PublicClient } from "viem";
import type { AuditLog } from "./auditLog.js";
import { readAnchors, type OnChainAnchor } from "./chainAnchors.js";
import type { VerifyResult } from "./verifyLog.js";

/** The outcome of checking a stored log against the roots its node anchored on the ledger. */
export interface ChainVerification {
  result: VerifyResult;
  /** The log's size as stored. */
  size: number;
  /** Every anchor the ledger holds for the node, oldest first. */
  anchors: OnChainAnchor[];
}

/**
 * Re-checks the whole stored log, its patient chains and patient map against every tree head
 * (log root and map root) `node` anchored on the ledger, read from
 * the AuditAnchor contract itself, never from the node's own `audit_tree_heads` table: editing the
 * database cannot hide a rewrite by also editing the stored heads.
 * @param log - the node's audit log
 * @param client - a client of the ledger
 * @param auditAnchor - the AuditAnchor contract
 * @param node - the node's account
 * @returns the first divergence, if any. https://www.rfc-editor.org/rfc/rfc9162#section-2.1
 */
export async function verifyLogAgainstChain(
  log: AuditLog,
  client: Pick<PublicClient, "readContract">,
  auditAnchor: Address,
  node: Address,
): Promise<ChainVerification> {
  const anchors = await readAnchors(client, auditAnchor, node);
  const result = await log.verifyAll(
    anchors.map((a) => ({ treeSize: a.treeSize, rootHash: a.rootHash, mapRoot: a.mapRoot })),
  );
  return { result, size: log.size(), anchors };
}
