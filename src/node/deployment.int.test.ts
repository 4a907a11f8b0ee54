import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { careCreditAbi } from "../chain/artifacts/CareCredit.js";
import { consentRegistryAbi } from "../chain/artifacts/ConsentRegistry.js";
import { MINTER_ROLE } from "../chain/deploy.js";
import { recordLocatorAbi } from "../chain/artifacts/RecordLocator.js";
import { loadConfig } from "../config/config.js";
import { getMeta, setMeta } from "../store/meta.js";
import { createLogger } from "./logger.js";
import { startNode, type RunningNode } from "./startNode.js";

/**
 * A node whose remembered deployment names a RecordLocator of the first version (the one that held
 * category bitmasks, remembered without `recordLocatorVersion`) replaces it on start, and a node
 * never starts on a locator that does not answer the current `LOCATOR_VERSION`.
 */
describe("RecordLocator upgrade on start", () => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-locator-upgrade-"));
  const start = () =>
    startNode(loadConfig({}, { dataDir: dir, port: 0, logLevel: "silent" }), {
      logger: createLogger("silent"),
    });
  const rewrite = async (node: RunningNode, change: (s: Record<string, unknown>) => void) => {
    const stored = JSON.parse((await getMeta(node.context.store.db, "chain.deployment"))!) as Record<
      string,
      unknown
    >;
    change(stored);
    await setMeta(node.context.store.db, "chain.deployment", JSON.stringify(stored));
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("deploys a current locator in place of a first-version one, and refuses a locator of another version", async () => {
    const first = await start();
    const before = first.context.deployment.recordLocator;
    await rewrite(first, (s) => delete s.recordLocatorVersion);
    await first.stop();

    const second = await start();
    const after = second.context.deployment.recordLocator;
    expect(after).not.toBe(before);
    expect(
      await second.context.clients.publicClient.readContract({
        address: after,
        abi: recordLocatorAbi,
        functionName: "LOCATOR_VERSION",
      }),
    ).toBe(2);
    expect(JSON.parse((await getMeta(second.context.store.db, "chain.deployment"))!)).toMatchObject({
      recordLocator: after,
      recordLocatorVersion: 2,
    });
    // a remembered address that is no RecordLocator of this version (here: the registry)
    await rewrite(second, (s) => (s.recordLocator = s.participantRegistry));
    await second.stop();
    await expect(start()).rejects.toThrow(/RecordLocator at 0x[0-9a-fA-F]{40} is not version 2/u);
  }, 90_000);

  it("deploys a current ConsentRegistry in place of one that held grant terms, and refuses another version", async () => {
    // a data directory of its own: the test above leaves its node refusing to start
    rmSync(dir, { recursive: true, force: true });
    const first = await start();
    const before = first.context.deployment.consentRegistry;
    await rewrite(first, (s) => delete s.consentRegistryVersion);
    await first.stop();

    const second = await start();
    const after = second.context.deployment.consentRegistry;
    expect(after).not.toBe(before);
    expect(
      await second.context.clients.publicClient.readContract({
        address: after,
        abi: consentRegistryAbi,
        functionName: "CONSENT_VERSION",
      }),
    ).toBe(2);
    expect(JSON.parse((await getMeta(second.context.store.db, "chain.deployment"))!)).toMatchObject({
      consentRegistry: after,
      consentRegistryVersion: 2,
    });
    await rewrite(second, (s) => (s.consentRegistry = s.participantRegistry));
    await second.stop();
    await expect(start()).rejects.toThrow(/ConsentRegistry at 0x[0-9a-fA-F]{40} is not version 2/u);
  }, 90_000);

  it("deploys CareCredit and StudyEscrow for a deployment remembered from before them; the node holds MINTER_ROLE", async () => {
    rmSync(dir, { recursive: true, force: true });
    const first = await start();
    const node = first.context.key.account.address;
    const hasMinter = (running: RunningNode, credit: `0x${string}`) =>
      running.context.clients.publicClient.readContract({
        address: credit,
        abi: careCreditAbi,
        functionName: "hasRole",
        args: [MINTER_ROLE, node],
      });
    expect(await hasMinter(first, first.context.deployment.careCredit)).toBe(true);
    const before = first.context.deployment.studyEscrow;
    await rewrite(first, (s) => {
      delete s.careCredit;
      delete s.studyEscrow;
    });
    await first.stop();

    const second = await start();
    try {
      const { careCredit, studyEscrow } = second.context.deployment;
      expect(studyEscrow).not.toBe(before);
      expect(await hasMinter(second, careCredit)).toBe(true);
      expect(JSON.parse((await getMeta(second.context.store.db, "chain.deployment"))!)).toMatchObject({
        careCredit,
        studyEscrow,
      });
      expect(await second.services.studyLedger.balanceOf(node)).toBe(0n);
    } finally {
      await second.stop();
    }
  }, 90_000);
});
