import { afterEach, describe, expect, it } from "vitest";
import { bytesToHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { decodeArgs, Outbox } from "../chain/outbox.js";
import { Anchorer, type LedgerAnchor } from "./anchorer.js";
import type { AuditEntry } from "./auditEntry.js";
import { AuditLog } from "./auditLog.js";

const entry = (i: number): AuditEntry => ({
  v: 1,
  time: "2026-01-01T00:00:00.000Z",
  requestId: `r-${i}`,
  actor: { account: "0x00000000000000000000000000000000000000a1" },
  action: "read",
  decision: "permit",
});

// No relayer runs here: intents stay pending until the test settles them as the relayer would.
describe.each(engines)("Anchorer on %s", (engine) => {
  let t: TestStore;
  let log: AuditLog;
  afterEach(async () => {
    await log.stopBackground();
    await t.dispose();
  });

  /** An anchorer over a fresh log, with a ledger that holds what `settle` confirmed. */
  async function setUp() {
    t = await freshStore(engine);
    log = await AuditLog.open(t.store, { patientIndexDelayMs: 60_000 });
    const outbox = new Outbox(t.store);
    const signer = privateKeyToAccount(generatePrivateKey());
    // The ledger as the relayer would leave it: the last confirmed head.
    let onLedger: LedgerAnchor | undefined;
    const newAnchorer = () =>
      new Anchorer({
        log,
        ledger: { latest: async () => onLedger },
        outbox,
        signer,
        domain: { chainId: 31337, verifyingContract: "0x00000000000000000000000000000000000000aa" },
        intervalMs: 0,
        maxEntries: 1_000_000,
        ready: async () => true,
      });
    const intentOf = (size: number) => outbox.byKey(`anchor:${signer.address.toLowerCase()}:${size}`);
    const settle = async (size: number, how: "confirmed" | "failed") => {
      const row = await intentOf(size);
      expect(row?.status).toBe("pending");
      if (how === "confirmed") {
        await outbox.markConfirmed(row!.id, 1);
        const head = (await log.treeHeads()).find((h) => h.treeSize === size)!;
        onLedger = { treeSize: size, rootHash: head.rootHash, mapRoot: head.mapRoot };
      } else await outbox.markFailed(row!.id, "reverted", 1);
    };
    return { newAnchorer, intentOf, settle };
  }

  it("keeps one anchor in flight: no new head until the last one landed or failed, then one covering everything", async () => {
    const { newAnchorer, settle } = await setUp();
    const anchorer = newAnchorer();

    await log.append([0, 1, 2, 3, 4].map(entry));
    expect(await anchorer.tick()).toBe(5);
    await log.append([5, 6, 7].map(entry));
    expect(await anchorer.tick()).toBeUndefined();
    expect((await log.treeHeads()).map((h) => h.treeSize)).toEqual([5]);

    await settle(5, "confirmed");
    expect(await anchorer.tick()).toBe(8);
    await log.append([entry(8)]);
    expect(await anchorer.tick()).toBeUndefined();

    await settle(8, "failed");
    expect(await anchorer.tick()).toBe(9);
    expect((await log.treeHeads()).map((h) => h.treeSize)).toEqual([5, 8, 9]);
  });

  it("after a restart, waits for the anchor an earlier run left in flight, then proves from it", async () => {
    const { newAnchorer, intentOf, settle } = await setUp();
    await log.append([0, 1, 2, 3, 4].map(entry));
    expect(await newAnchorer().tick()).toBe(5);
    // the process stops here; its anchor of size 5 is still in the outbox, not yet on the ledger
    await log.append([5, 6, 7].map(entry));
    const restarted = newAnchorer();
    await restarted.start();
    restarted.stop();
    expect(await restarted.tick(true)).toBeUndefined();
    expect(await intentOf(8)).toBeUndefined();

    await settle(5, "confirmed");
    expect(await restarted.tick(true)).toBe(8);
    const [, , proof] = decodeArgs((await intentOf(8))!.args) as [unknown, unknown, string[]];
    expect(proof).toEqual((await log.consistencyProof(5, 8)).map((p) => bytesToHex(p)));
  });
});
