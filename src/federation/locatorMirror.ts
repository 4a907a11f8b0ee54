import type { Kysely } from "kysely";
import { decodeEventLog, getAddress, type Address, type Hex } from "viem";
import { recordLocatorAbi } from "../chain/artifacts/RecordLocator.js";
import type { IndexedLog, LogHandler } from "../chain/indexer.js";
import type { Schema } from "../store/schema.js";

/** One organization holding data for a patient's account, as the node's mirror knows it. */
export interface RecordLocation {
  organization: Hex;
  /** Unix seconds (a UTC day) of the holder's last update. */
  updatedAt: number;
  /** Where the holder's node answers (from ParticipantRegistry); "" when the organization is unknown. */
  endpoint: string;
  /** The holder's node account; undefined when the organization is unknown here. */
  node: Address | undefined;
  active: boolean;
}

/**
 * Mirrors RecordLocator events into `record_locators`: `LocatorPublished` upserts the entry as
 * the contract stored it, `LocatorWithdrawn` deletes it. Applied in block order this reproduces
 * the contract's state, and a replay after a crash changes nothing.
 * @param db - The node database.
 * @returns A handler for `indexer.onLog(...)`; it ignores other contracts' events.
 */
export function locatorMirror(db: Kysely<Schema>): LogHandler {
  return async (log: IndexedLog) => {
    if (log.contract !== "RecordLocator") return;
    const event = decodeEventLog({ abi: recordLocatorAbi, topics: log.raw.topics, data: log.raw.data });
    const patient = event.args.patient.toLowerCase();
    const organization = event.args.organization.toLowerCase();
    if (event.eventName === "LocatorWithdrawn") {
      await db
        .deleteFrom("record_locators")
        .where("patient", "=", patient)
        .where("organization", "=", organization)
        .execute();
      return;
    }
    const row = {
      patient,
      organization,
      updated_at: Number(event.args.updatedAt),
      block_number: Number(log.blockNumber),
    };
    await db
      .insertInto("record_locators")
      .values(row)
      .onConflict((oc) =>
        oc.columns(["patient", "organization"]).doUpdateSet({
          updated_at: row.updated_at,
          block_number: row.block_number,
        }),
      )
      .execute();
  };
}

/**
 * Which organizations hold data for `patient`, with their nodes' endpoints: a read of the node's
 * own mirror, no ledger call. Callers go through `FederationService.locate`, which decides and audits.
 * @param db - The node database.
 * @param patient - The patient's account.
 */
export async function locate(db: Kysely<Schema>, patient: string): Promise<RecordLocation[]> {
  const rows = await db
    .selectFrom("record_locators as l")
    .leftJoin("organizations as o", "o.id", "l.organization")
    .select(["l.organization", "l.updated_at", "o.endpoint", "o.node_address", "o.active"])
    .where("l.patient", "=", patient.toLowerCase())
    .orderBy("l.block_number")
    .orderBy("l.organization")
    .execute();
  return rows.map((r) => ({
    organization: r.organization as Hex,
    updatedAt: Number(r.updated_at),
    endpoint: r.endpoint ?? "",
    node: r.node_address ? getAddress(r.node_address) : undefined,
    active: r.active === 1,
  }));
}
