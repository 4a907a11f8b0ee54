/**
 * CareCredit movements as the node's indexer reads them from the ledger: every Transfer that
 * mints credits, escrows them into StudyEscrow or pays them out of it, named by the StudyEscrow
 * event of the same transaction (StudyRegistered, ContributionPaid, StudyClosed). Kept in
 * `credit_movements` (migration 026), so a credit history is a query. Nothing here identifies a
 * patient: a payout address is a per-study address the patient derived, public on the ledger.
 */
import { getAddress, isAddressEqual, zeroAddress, type Address, type Hex } from "viem";
import type { Kysely as Db } from "kysely";
import type { Schema } from "../store/schema.js";
import type { CreditEvent } from "./studyLedger.js";
import type { IndexedLog, LogHandler } from "./indexer.js";

/** One row of `credit_movements`. */
export interface CreditMovementRow {
  tx_hash: string;
  log_index: number;
  block_number: number;
  /** "minted" | "escrowed" | "paid" | "refunded". */
  kind: string;
  study_id: string | null;
  /** uint256 as a decimal string. */
  amount: string;
  from_account: string;
  to_account: string;
}

type CreditTables = { credit_movements: CreditMovementRow };
type CreditDb = Db<Schema & CreditTables>;

const creditDb = (db: Db<Schema>): CreditDb => db.withTables<CreditTables>();

/** The StudyEscrow event that names the Transfer just before it in the same transaction. */
const NAMING_EVENTS: Record<string, CreditEvent["kind"]> = {
  StudyRegistered: "escrowed",
  ContributionPaid: "paid",
  StudyClosed: "refunded",
};

/**
 * An indexer handler keeping `credit_movements`: idempotent (a replayed range writes the same
 * rows), so it is safe under the indexer's at-least-once delivery.
 * @param db - The node database.
 * @param studyEscrow - StudyEscrow's address: transfers into it are escrows, out of it payouts or refunds.
 */
export function creditMirror(db: Db<Schema>, studyEscrow: Address): LogHandler {
  const cdb = creditDb(db);
  return async (log: IndexedLog) => {
    if (log.contract === "CareCredit" && log.eventName === "Transfer") {
      const { from, to, value } = log.args as { from: Address; to: Address; value: bigint };
      const kind = isAddressEqual(from, zeroAddress)
        ? "minted"
        : isAddressEqual(to, studyEscrow)
          ? "escrowed"
          : isAddressEqual(from, studyEscrow)
            ? "paid"
            : undefined;
      // transfers between accounts are no study's business: not kept
      if (kind === undefined) return;
      await cdb
        .insertInto("credit_movements")
        .values({
          tx_hash: log.transactionHash.toLowerCase(),
          log_index: log.logIndex,
          block_number: Number(log.blockNumber),
          kind,
          study_id: null,
          amount: value.toString(),
          from_account: from.toLowerCase(),
          to_account: to.toLowerCase(),
        })
        .onConflict((oc) => oc.columns(["tx_hash", "log_index"]).doNothing())
        .execute();
      return;
    }
    const kind = log.contract === "StudyEscrow" ? NAMING_EVENTS[log.eventName] : undefined;
    if (kind === undefined) return;
    const { studyId } = log.args as { studyId: Hex };
    const transfer = await cdb
      .selectFrom("credit_movements")
      .select("log_index")
      .where("tx_hash", "=", log.transactionHash.toLowerCase())
      .where("log_index", "<", log.logIndex)
      .orderBy("log_index", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!transfer) return;
    await cdb
      .updateTable("credit_movements")
      .set({ kind, study_id: studyId.toLowerCase() })
      .where("tx_hash", "=", log.transactionHash.toLowerCase())
      .where("log_index", "=", transfer.log_index)
      .execute();
  };
}

/**
 * Credit movements to or from any of `accounts`, oldest first.
 * @param db - The node database.
 * @param accounts - Addresses (any case).
 */
export async function creditHistory(db: Db<Schema>, accounts: readonly Address[]): Promise<CreditEvent[]> {
  if (accounts.length === 0) return [];
  const lower = accounts.map((a) => a.toLowerCase());
  const rows = await creditDb(db)
    .selectFrom("credit_movements")
    .selectAll()
    .where((eb) => eb.or([eb("to_account", "in", lower), eb("from_account", "in", lower)]))
    .orderBy("block_number")
    .orderBy("log_index")
    .execute();
  return rows.map((r) => ({
    kind: r.kind as CreditEvent["kind"],
    studyId: (r.study_id as Hex | null) ?? null,
    amount: BigInt(r.amount),
    to: getAddress(r.to_account),
    blockNumber: BigInt(r.block_number),
    transactionHash: r.tx_hash as Hex,
  }));
}
