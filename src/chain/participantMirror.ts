import type { Kysely } from "kysely";
import { decodeEventLog, hexToString, type Hex } from "viem";
import { ORGANIZATION_KINDS } from "../model/vocabulary.js";
import type { Schema } from "../store/schema.js";
import { participantRegistryAbi } from "./artifacts/ParticipantRegistry.js";
import type { IndexedLog, LogHandler } from "./indexer.js";

/** A mirrored organization of the consortium. */
export interface MirroredOrganization {
  id: Hex;
  name: string;
  kind: string;
  endpoint: string;
  nodeAddress: Hex;
  active: boolean;
}

/** Role name of a `bytes32` role (`PRACTITIONER_ROLES` in src/model/vocabulary.ts), NULs trimmed. */
export function roleName(role: Hex): string {
  return hexToString(role, { size: 32 }).replace(/\0+$/u, "");
}

/**
 * Mirrors ParticipantRegistry events into the organizations, practitioners and patients tables.
 * Every write is an idempotent upsert, so replays after a crash change nothing.
 * @param db - The node database.
 * @returns A handler to register with `indexer.onLog(...)`; it ignores other contracts' events.
 */
export function participantMirror(db: Kysely<Schema>): LogHandler {
  return async (log: IndexedLog) => {
    if (log.contract !== "ParticipantRegistry") return;
    const event = decodeEventLog({ abi: participantRegistryAbi, topics: log.raw.topics, data: log.raw.data });
    switch (event.eventName) {
      case "OrganizationRegistered": {
        const a = event.args;
        const row = {
          id: a.orgId.toLowerCase(),
          name: a.name,
          kind: ORGANIZATION_KINDS[a.kind] ?? String(a.kind),
          endpoint: a.endpoint,
          node_address: a.node.toLowerCase(),
          active: 1,
        };
        await db
          .insertInto("organizations")
          .values(row)
          .onConflict((oc) =>
            oc.column("id").doUpdateSet({
              name: row.name,
              kind: row.kind,
              endpoint: row.endpoint,
              node_address: row.node_address,
            }),
          )
          .execute();
        return;
      }
      case "OrganizationUpdated":
        await db
          .updateTable("organizations")
          .set({ endpoint: event.args.endpoint, node_address: event.args.node.toLowerCase() })
          .where("id", "=", event.args.orgId.toLowerCase())
          .execute();
        return;
      case "OrganizationActivationChanged":
        await db
          .updateTable("organizations")
          .set({ active: event.args.active ? 1 : 0 })
          .where("id", "=", event.args.orgId.toLowerCase())
          .execute();
        return;
      case "PractitionerAdded": {
        const row = {
          account: event.args.account.toLowerCase(),
          org_id: event.args.orgId.toLowerCase(),
          role: roleName(event.args.role),
          active: 1,
        };
        await db
          .insertInto("practitioners")
          .values(row)
          .onConflict((oc) => oc.columns(["account", "org_id"]).doUpdateSet({ role: row.role, active: 1 }))
          .execute();
        return;
      }
      case "PractitionerRemoved":
        await db
          .updateTable("practitioners")
          .set({ active: 0 })
          .where("account", "=", event.args.account.toLowerCase())
          .where("org_id", "=", event.args.orgId.toLowerCase())
          .execute();
        return;
      case "PatientRegistered":
        await db
          .insertInto("patients")
          .values({ account: event.args.account.toLowerCase(), registered_block: Number(log.blockNumber) })
          .onConflict((oc) => oc.column("account").doNothing())
          .execute();
        return;
      case "EIP712DomainChanged":
      case "RoleAdminChanged":
      case "RoleGranted":
      case "RoleRevoked":
        return;
    }
  };
}

/** The mirrored organization with id `orgId` (a bytes32 hex string), if any. */
export async function organizationById(
  db: Kysely<Schema>,
  orgId: string,
): Promise<MirroredOrganization | undefined> {
  const row = await db
    .selectFrom("organizations")
    .selectAll()
    .where("id", "=", orgId.toLowerCase())
    .executeTakeFirst();
  return row && toOrganization(row);
}

/** The mirrored organization whose node signs as `node`, if any. */
export async function organizationByNode(
  db: Kysely<Schema>,
  node: string,
): Promise<MirroredOrganization | undefined> {
  const row = await db
    .selectFrom("organizations")
    .selectAll()
    .where("node_address", "=", node.toLowerCase())
    .executeTakeFirst();
  return row && toOrganization(row);
}

/** The organizations (ids) that currently vouch for `account`, with its role in each. */
export async function practitionerRoles(
  db: Kysely<Schema>,
  account: string,
): Promise<Array<{ orgId: Hex; role: string }>> {
  const rows = await db
    .selectFrom("practitioners")
    .select(["org_id", "role"])
    .where("account", "=", account.toLowerCase())
    .where("active", "=", 1)
    .orderBy("org_id")
    .execute();
  return rows.map((r) => ({ orgId: r.org_id as Hex, role: r.role }));
}

/** Whether `account` is a registered patient in the mirror. */
export async function isPatient(db: Kysely<Schema>, account: string): Promise<boolean> {
  const row = await db
    .selectFrom("patients")
    .select("account")
    .where("account", "=", account.toLowerCase())
    .executeTakeFirst();
  return row !== undefined;
}

function toOrganization(row: Schema["organizations"]): MirroredOrganization {
  return {
    id: row.id as Hex,
    name: row.name,
    kind: row.kind,
    endpoint: row.endpoint,
    nodeAddress: row.node_address as Hex,
    active: row.active === 1,
  };
}
