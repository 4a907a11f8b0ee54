import { bytesToHex, type Address } from "viem";
import type { Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import type { AuditEntry } from "./auditEntry.js";
import type { AuditLog } from "./auditLog.js";
import type { EntryProof } from "./entryProof.js";

export interface AccessLogItem {
  index: number;
  entry: AuditEntry;
  /** Inclusion proof to the latest anchored tree head; null until the entry is anchored (about a second). */
  proof: EntryProof | null;
}

/**
 * A patient's access log: every entry about them (who, what, when, why, allowed or denied), each
 * with an inclusion proof to a tree head anchored on the ledger.
 */
export class AccessLog {
  constructor(
    private readonly log: AuditLog,
    private readonly node: Address,
  ) {}

  /** Entries about `patient` (the caller must be that patient, or a system job). */
  async forPatient(
    principal: Principal,
    patient: Address,
    page: { afterIndex?: number; limit?: number } = {},
  ): Promise<{ items: AccessLogItem[]; anchoredSize: number }> {
    if (principal.kind !== "system" && principal.account.toLowerCase() !== patient.toLowerCase()) {
      throw new BaseError("forbidden", "a patient's access log is theirs alone");
    }
    const entries = await this.log.entries({ patient, ...page });
    const head = await this.log.latestTreeHead("anchored");
    const anchoredSize = head?.treeSize ?? 0;
    const items: AccessLogItem[] = [];
    for (const e of entries)
      items.push({
        index: e.index,
        entry: e.entry,
        proof:
          head && e.index < anchoredSize ? await this.proofFor(e.index, anchoredSize, head.rootHash) : null,
      });
    return { items, anchoredSize };
  }

  /**
   * The proof of one entry about the caller (a system job: any entry) to the anchored tree head
   * of size `treeSize`, or to the latest anchored one.
   */
  async proofForCaller(principal: Principal, index: number, treeSize?: number): Promise<EntryProof> {
    const stored = await this.log.entry(index);
    if (!stored) throw new BaseError("not-found", "no audit entry at this index");
    if (
      principal.kind !== "system" &&
      stored.entry.patient?.toLowerCase() !== principal.account.toLowerCase()
    )
      throw new BaseError("forbidden", "this entry is not about you");
    const head = treeSize ?? (await this.log.latestTreeHead("anchored"))?.treeSize;
    if (head === undefined || head <= index)
      throw new BaseError("conflict", "this entry is not anchored yet; retry in a second");
    return this.proofFor(index, head);
  }

  /** The self-contained proof of one entry to an anchored tree head of size `treeSize`. */
  async proofFor(index: number, treeSize: number, rootHash?: `0x${string}`): Promise<EntryProof> {
    const stored = await this.log.entry(index);
    if (!stored) throw new BaseError("not-found", "no audit entry at this index");
    const proof = await this.log.inclusionProof(index, treeSize);
    return {
      node: this.node,
      index,
      entry: stored.text,
      treeSize,
      rootHash: rootHash ?? bytesToHex(await this.log.root(treeSize)),
      proof: proof.map((p) => bytesToHex(p)),
    };
  }
}
