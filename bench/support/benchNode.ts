/**
 * A real carechain node for benches: `startNode` on a temp dir (SQLite, embedded anvil, port 0,
 * silent logs), plus helpers to register organizations and practitioners through the outbox the
 * way a governor would, and to wait until the indexer has mirrored them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { ParticipantAdmin } from "../../src/chain/participantAdmin.js";
import { organizationByNode } from "../../src/chain/participantMirror.js";
import { loadConfig, type ConfigOverrides } from "../../src/config/config.js";
import type { PractitionerRole } from "../../src/model/vocabulary.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";

export interface BenchNode {
  node: RunningNode;
  /** Registers an organization whose node is `nodeAddress` (governor write). */
  registerOrganization(id: Hex, name: string, nodeAddress: Address): Promise<void>;
  /** Adds practitioners to organizations and waits until the indexer mirrored them. */
  addPractitioners(
    list: Array<{ organization: Hex; account: Address; role: PractitionerRole }>,
  ): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a node in a fresh temp directory and waits until its own organization is registered
 * and mirrored (so the anchorer runs).
 * @param overrides - configuration overrides (anchor interval, ...)
 */
export async function startBenchNode(overrides: ConfigOverrides = {}): Promise<BenchNode> {
  const dir = mkdtempSync(join(tmpdir(), "carechain-bench-"));
  const node = await startNode(loadConfig({}, { dataDir: dir, port: 0, logLevel: "silent", ...overrides }), {
    logger: createLogger("silent"),
  });
  const { outbox, indexer, organizationId, store, key } = node.context;
  const admin = new ParticipantAdmin(outbox);
  const settle = async (ids: number[]) => {
    let last = 0;
    for (const id of ids) last = Math.max(last, (await outbox.waitFor(id, 30_000)).block_number ?? 0);
    await indexer.waitForBlock(BigInt(last), 30_000);
  };
  await outbox.waitFor(`register-organization:${organizationId}`, 30_000);
  const deadline = Date.now() + 30_000;
  while ((await organizationByNode(store.db, key.account.address)) === undefined) {
    if (Date.now() > deadline) throw new Error("the bench node's organization was never mirrored");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    node,
    async registerOrganization(id, name, nodeAddress) {
      const { id: intent } = await admin.registerOrganization({
        id,
        name,
        kind: "clinic",
        endpoint: "http://127.0.0.1:1",
        node: nodeAddress,
      });
      await settle([intent]);
    },
    async addPractitioners(list) {
      const ids: number[] = [];
      for (const p of list) ids.push((await admin.addPractitioner(p.organization, p.account, p.role)).id);
      await settle(ids);
    },
    async stop() {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
