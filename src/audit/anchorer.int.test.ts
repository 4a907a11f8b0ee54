import { afterEach, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { Outbox } from "../chain/outbox.js";
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
    log.stopBackground();
    await t.dispose();
  });

  it("keeps one anchor in flight: no new head until the last one landed or failed, then one covering everything", async () => {
    t = await freshStore(engine);
    log = await AuditLog.open(t.store, { patientIndexDelayMs: 60_000 });
    const outbox = new Outbox(t.store);
    const signer = privateKeyToAccount(generatePrivateKey());
    // The ledger as the relayer would leave it: the last confirmed head.
    let onLedger: LedgerAnchor | undefined;
    const anchorer = new Anchorer({
      log,
      ledger: { latest: async () => onLedger },
      outbox,
      signer,
      domain: { chainId: 31337, verifyingContract: "0x00000000000000000000000000000000000000aa" },
      intervalMs: 0,
      maxEntries: 1_000_000,
      ready: async () => true,
    });
    const settle = async (size: number, how: "confirmed" | "failed") => {
      const row = await outbox.byKey(`anchor:${signer.address.toLowerCase()}:${size}`);
      expect(row?.status).toBe("pending");
      if (how === "confirmed") {
        await outbox.markConfirmed(row!.id, 1);
        const head = (await log.treeHeads()).find((h) => h.treeSize === size)!;
        onLedger = { treeSize: size, rootHash: head.rootHash, mapRoot: head.mapRoot };
      } else await outbox.markFailed(row!.id, "reverted", 1);
    };

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
});
