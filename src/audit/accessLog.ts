import { bytesToHex, type Address } from "viem";
import type { Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import type { AuditOpening, LoggedAuditEntry } from "./auditEntry.js";
import type { AuditLog } from "./auditLog.js";
import type { EntryProof } from "./entryProof.js";
import type { PatientMapProof } from "./patientMapProof.js";

export interface AccessLogItem {
  index: number;
  /** The entry as stored and hashed (version 2: categories and reason only as `commitment`). */
  entry: LoggedAuditEntry;
  /**
   * The opening of a version 2 entry's commitment (salt, categories, reason), for the patient to
   * check against `entry.commitment` (`verifyAccessLog` does); null when the entry has no
   * commitment or the opening was deleted with the patient's erasure.
   */
  opening: AuditOpening | null;
  /** Inclusion proof to the latest anchored tree head; null until the entry is anchored (about a second). */
  proof: EntryProof | null;
}

/** One page of a patient's access log, at one anchored tree size. */
export interface AccessLogPage {
  items: AccessLogItem[];
  /** The anchored tree size every proof of the page refers to (0: nothing anchored yet). */
  anchoredSize: number;
  /**
   * The patient's (last entry, count) in the patient map anchored at `anchoredSize`, with which
   * the patient checks that the entries shown are all of theirs (docs/audit-completeness.md);
   * null when nothing is anchored yet.
   */
  mapProof: PatientMapProof | null;
}

/**
 * A patient's access log: every entry about them (who, what, when, why, allowed or denied), each
 * with an inclusion proof to a tree head anchored on the ledger, and the patient map's proof of
 * how many there are.
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
    page: { afterIndex?: number; limit?: number; anchoredSize?: number } = {},
  ): Promise<AccessLogPage> {
    if (principal.kind !== "system" && principal.account.toLowerCase() !== patient.toLowerCase()) {
      throw new BaseError("forbidden", "a patient's access log is theirs alone");
    }
    const { anchoredSize: pinned, ...range } = page;
    const head =
      pinned === undefined
        ? await this.log.latestTreeHead("anchored")
        : (await this.log.treeHeads({ status: "anchored", afterSize: pinned - 1, limit: 1 })).find(
            (h) => h.treeSize === pinned,
          );
    if (pinned !== undefined && head === undefined)
      throw new BaseError("conflict", "anchoredSize is not an anchored tree size of this node", {
        expression: "anchoredSize",
      });
    const anchoredSize = head?.treeSize ?? 0;
    const mapProof = head === undefined ? null : this.log.patientMapProof(patient, anchoredSize);
    if (mapProof === undefined)
      throw new BaseError("conflict", "this anchored tree size is no longer served; start from the latest", {
        expression: "anchoredSize",
      });
    const entries = await this.log.entries({ patient, ...range });
    const items: AccessLogItem[] = [];
    for (const e of entries)
      items.push({
        index: e.index,
        entry: e.entry,
        opening: e.opening ?? null,
        proof:
          head && e.index < anchoredSize ? await this.proofFor(e.index, anchoredSize, head.rootHash) : null,
      });
    return { items, anchoredSize, mapProof };
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
