import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it } from "vitest";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { DbChallengeStore } from "./challengeStore.js";
import { SiweChallenges } from "./siwe.js";

const OPTIONS = { domain: "node.example", uri: "https://node.example/auth", chainId: 31337 };
const alice = privateKeyToAccount(generatePrivateKey());
const unknownNonce = expect.objectContaining({
  kind: "unauthenticated",
  message: "SIWE nonce unknown or already used",
});

describe.each(engines)("SIWE challenges in the database on %s", (engine) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  it("are answered by another process sharing the database, once, and survive a restart", async () => {
    t = await freshStore(engine);
    // Two API processes of one node: each its own SiweChallenges and store object, one database.
    const a = new SiweChallenges({ ...OPTIONS, store: new DbChallengeStore(t.store) });
    const b = new SiweChallenges({ ...OPTIONS, store: new DbChallengeStore(t.store) });
    const first = await a.issue(alice.address);
    const signature = await alice.signMessage({ message: first.message });
    await expect(b.verify({ message: first.message, signature })).resolves.toEqual({
      address: alice.address,
    });
    await expect(a.verify({ message: first.message, signature })).rejects.toThrow(unknownNonce);

    // Both processes see the same answer at once: exactly one passes.
    const second = await a.issue(alice.address);
    const signed = {
      message: second.message,
      signature: await alice.signMessage({ message: second.message }),
    };
    const outcomes = await Promise.allSettled([a.verify(signed), b.verify(signed)]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);

    // A challenge issued before a restart is still answerable after it.
    const third = await a.issue(alice.address);
    const restarted = new SiweChallenges({ ...OPTIONS, store: new DbChallengeStore(t.store) });
    await expect(
      restarted.verify({
        message: third.message,
        signature: await alice.signMessage({ message: third.message }),
      }),
    ).resolves.toEqual({ address: alice.address });
    expect(await restarted.size()).toBe(0);
  });

  it("drops expired challenges and, beyond the bound, the oldest", async () => {
    t = await freshStore(engine);
    let now = 1_000_000;
    const store = new DbChallengeStore(t.store, 100);
    const c = new SiweChallenges({ ...OPTIONS, store, ttlMs: 60_000, now: () => now });
    const stale = await c.issue(alice.address);
    now += 60_000;
    await c.issue(alice.address);
    expect(await c.size()).toBe(1);
    await expect(
      c.verify({ message: stale.message, signature: await alice.signMessage({ message: stale.message }) }),
    ).rejects.toThrow(unknownNonce);

    const issued = [];
    for (let i = 0; i < 300; i++) {
      now += 1;
      issued.push(await c.issue(alice.address));
    }
    expect(await c.size()).toBeLessThan(200);
    const oldest = issued[0]!;
    await expect(
      c.verify({ message: oldest.message, signature: await alice.signMessage({ message: oldest.message }) }),
    ).rejects.toThrow(unknownNonce);
    const newest = issued[299]!;
    await expect(
      c.verify({ message: newest.message, signature: await alice.signMessage({ message: newest.message }) }),
    ).resolves.toEqual({ address: alice.address });
  });
});
