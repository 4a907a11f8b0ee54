import type { Kysely } from "kysely";
import { decodeEventLog, getAddress, type Address, type Hex } from "viem";
import { recordLocatorAbi } from "../chain/artifacts/RecordLocator.js";
import type { IndexedLog, LogHandler } from "../chain/indexer.js";
import type { Schema } from "../store/schema.js";

/** One organization holding part of a patient's record, as the node's mirror knows it. */
export interface RecordLocation {
  organization: Hex;
  /** Category bitmask held. */
  categories: number;
  /** Unix seconds of the holder's last update. */
  updatedAt: number;
  /** Where the holder's node answers (from ParticipantRegistry); "" when the organization is unknown. */
  endpoint: string;
  /** The holder's node account; undefined when the organization is unknown here. */
  node: Address | undefined;
  active: boolean;
}

/**
 * Mirrors RecordLocator `LocatorPublished` events into `record_locators`. The event carries the
 * merged on-chain entry, so an upsert in block order reproduces the contract's state and a replay
 * after a crash changes nothing.
 * @param db - The node database.
 * @returns A handler for `indexer.onLog(...)`; it ignores other contracts' events.
 */
export function locatorMirror(db: Kysely<Schema>): LogHandler {
  return async (log: IndexedLog) => {
    if (log.contract !== "RecordLocator") return;
    const event = decodeEventLog({ abi: recordLocatorAbi, topics: log.raw.topics, data: log.raw.data });
    if (event.eventName !== "LocatorPublished") return;
    const row = {
      patient: event.args.patient.toLowerCase(),
      organization: event.args.organization.toLowerCase(),
      categories: event.args.categories,
      updated_at: Number(event.args.updatedAt),
      block_number: Number(log.blockNumber),
    };
    await db
      .insertInto("record_locators")
      .values(row)
      .onConflict((oc) =>
        oc.columns(["patient", "organization"]).doUpdateSet({
          categories: row.categories,
          updated_at: row.updated_at,
          block_number: row.block_number,
        }),
      )
      .execute();
  };
}

/**
 * Which organizations hold which categories of `patient`'s record, with their nodes' endpoints:
 * a read of the node's own mirror, no ledger call.
 * @param db - The node database.
 * @param patient - The patient's account.
 */
export async function locate(db: Kysely<Schema>, patient: string): Promise<RecordLocation[]> {
  const rows = await db
    .selectFrom("record_locators as l")
    .leftJoin("organizations as o", "o.id", "l.organization")
    .select(["l.organization", "l.categories", "l.updated_at", "o.endpoint", "o.node_address", "o.active"])
    .where("l.patient", "=", patient.toLowerCase())
    .orderBy("l.block_number")
    .execute();
  return rows.map((r) => ({
    organization: r.organization as Hex,
    categories: Number(r.categories),
    updatedAt: Number(r.updated_at),
    endpoint: r.endpoint ?? "",
    node: r.node_address ? getAddress(r.node_address) : undefined,
    active: r.active === 1,
  }));
}
