import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { Outbox } from "./outbox.js";

describe.each(engines)("Outbox on %s", (engine) => {
  let t: TestStore;
  let outbox: Outbox;
  beforeEach(async () => {
    t = await freshStore(engine);
    outbox = new Outbox(t.store);
  });
  afterEach(async () => {
    await t.dispose();
  });

  const intent = {
    key: "anchor:1",
    contract: "AuditAnchor",
    functionName: "anchor",
    args: [{ treeSize: 3n }, "0x01"],
  } as const;

  it("commits an intent once per idempotency key", async () => {
    const seen: number[] = [];
    outbox.onIntent((id) => seen.push(id));
    const first = await outbox.intend(intent);
    const again = await outbox.intend(intent);
    expect(first.created).toBe(true);
    expect(again).toEqual({ id: first.id, created: false });
    expect(seen).toEqual([first.id]);
    expect(await outbox.depth()).toBe(1);
    const row = await outbox.byKey("anchor:1");
    expect(row).toMatchObject({
      id: first.id,
      status: "pending",
      contract: "AuditAnchor",
      function_name: "anchor",
    });
    expect(row?.args).toBe('[{"treeSize":{"$bigint":"3"}},"0x01"]');
    expect((await outbox.get(first.id))?.idem_key).toBe("anchor:1");
  });

  it("refuses a reused key with a different write", async () => {
    await outbox.intend(intent);
    const error = await outbox
      .intend({ ...intent, args: [{ treeSize: 4n }, "0x01"] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BaseError);
    expect((error as BaseError).kind).toBe("conflict");
  });

  it("concurrent intends of one key create one row", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => outbox.intend(intent)));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it("waitFor resolves on confirmation and rejects on failure", async () => {
    const a = await outbox.intend(intent);
    const b = await outbox.intend({ ...intent, key: "anchor:2" });
    const waitA = outbox.waitFor(a.id, 5000);
    const waitB = outbox.waitFor("anchor:2", 5000).catch((e: unknown) => e);
    await outbox.markSigned(a.id, "0x00000000000000000000000000000000000000AA", 7, "0xhash", "0xraw");
    await outbox.markConfirmed(a.id, 12);
    await outbox.markFailed(b.id, "AuditAnchorSizeNotIncreased(3, 3)");
    expect(await waitA).toMatchObject({ status: "confirmed", block_number: 12, sender_nonce: 7 });
    const err = (await waitB) as BaseError;
    expect(err.kind).toBe("conflict");
    expect(err.details).toBe("AuditAnchorSizeNotIncreased(3, 3)");
    expect(await outbox.depth()).toBe(0);
    expect(await outbox.highestNonce("0x00000000000000000000000000000000000000aa")).toBe(7);
    await expect(outbox.waitFor(9999, 100)).rejects.toMatchObject({ kind: "not-found" });
  });

  it("markSigned only moves a pending row, and reopenAbove resends a lost tail", async () => {
    const a = await outbox.intend(intent);
    expect(await outbox.markSigned(a.id, "0xabc", 0, "0xh", "0xr")).toBe(true);
    expect(await outbox.markSigned(a.id, "0xabc", 1, "0xh2", "0xr2")).toBe(false);
    await outbox.markConfirmed(a.id, 10);
    expect(await outbox.reopenAbove(10)).toBe(0);
    expect(await outbox.reopenAbove(9)).toBe(1);
    expect(await outbox.get(a.id)).toMatchObject({ status: "signed", tx_hash: "0xh", block_number: null });
    await expect(outbox.waitFor(a.id, 50)).rejects.toMatchObject({ kind: "timeout" });
  });

  it("latestUnsettled finds the newest pending or signed intent under a key prefix, and only there", async () => {
    const write = (key: string) => outbox.intend({ ...intent, key });
    const settled = await write("anchor:0xa1:1");
    await outbox.markConfirmed(settled.id, 1);
    expect(await outbox.latestUnsettled("anchor:0xa1:")).toBeUndefined();
    const signed = await write("anchor:0xa1:2");
    await outbox.markSigned(signed.id, "0xabc", 0, "0xh", "0xr");
    await write("anchor:0xa10:3");
    await write("xanchor:0xa1:4");
    expect(await outbox.latestUnsettled("anchor:0xa1:")).toMatchObject({ idem_key: "anchor:0xa1:2" });
    await write("anchor:0xa1:5");
    expect(await outbox.latestUnsettled("anchor:0xa1:")).toMatchObject({ idem_key: "anchor:0xa1:5" });
    expect(await outbox.latestUnsettled("anchor:0xa1%")).toBeUndefined();
  });

  it("inFlightRows holds what the ledger at a block does not: pending, signed, confirmed later; not failed or earlier", async () => {
    const write = (key: string) => outbox.intend({ ...intent, key });
    const early = await write("research:pay:s1:a");
    await outbox.markConfirmed(early.id, 10);
    const later = await write("research:pay:s1:b");
    await outbox.markConfirmed(later.id, 11);
    const failed = await write("research:pay:s1:c");
    await outbox.markFailed(failed.id, "reverted", 9);
    const signed = await write("research:pay:s1:d");
    await outbox.markSigned(signed.id, "0xabc", 0, "0xh", "0xr");
    const pending = await write("research:pay:s1:e");
    await write("research:pay:s10:f");
    const keys = async (block: number) =>
      (await outbox.inFlightRows("research:pay:s1:", block)).map((r) => r.idem_key);
    expect(await keys(10)).toEqual(["research:pay:s1:b", "research:pay:s1:d", "research:pay:s1:e"]);
    expect(await keys(11)).toEqual(["research:pay:s1:d", "research:pay:s1:e"]);
    expect(await keys(9)).toEqual([
      "research:pay:s1:a",
      "research:pay:s1:b",
      "research:pay:s1:d",
      "research:pay:s1:e",
    ]);
    expect(pending.created).toBe(true);
  });
});
