import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { ParticipantAdmin } from "../../src/chain/participantAdmin.js";
import type { OrganizationKind, PractitionerRole } from "../../src/model/vocabulary.js";
import type { RunningNode } from "../../src/node/startNode.js";

export interface OrganizationSpec {
  id: Hex;
  name: string;
  kind?: OrganizationKind;
  endpoint?: string;
  /** The organization's node address (a random one when the test runs no node for it). */
  node?: Address;
}

export interface PractitionerSpec {
  /** Organization id; the test node's own organization when omitted. */
  organization?: Hex;
  account: Address;
  role: PractitionerRole;
}

/**
 * Registers organizations and practitioners on the ledger through a running node (the governor,
 * since it deployed), waits until everything is mined and the node's indexer has mirrored it.
 */
export async function registerParticipants(
  node: RunningNode,
  organizations: OrganizationSpec[],
  practitioners: PractitionerSpec[],
): Promise<void> {
  const { outbox, organizationId, indexer } = node.context;
  const admin = new ParticipantAdmin(outbox);
  const intents: Array<{ id: number }> = [];
  for (const o of organizations) {
    intents.push(
      await admin.registerOrganization({
        id: o.id,
        name: o.name,
        kind: o.kind ?? "clinic",
        endpoint: o.endpoint ?? "http://127.0.0.1:1",
        node: o.node ?? privateKeyToAccount(generatePrivateKey()).address,
      }),
    );
  }
  await outbox.waitFor(`register-organization:${organizationId}`, 15_000);
  for (const p of practitioners) {
    intents.push(await admin.addPractitioner(p.organization ?? organizationId, p.account, p.role));
  }
  let last = 0;
  for (const i of intents) last = Math.max(last, (await outbox.waitFor(i.id, 15_000)).block_number ?? 0);
  await indexer.waitForBlock(BigInt(last), 10_000);
}
