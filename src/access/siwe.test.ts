import { HttpRequestError } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createSiweMessage, parseSiweMessage } from "viem/siwe";
import { describe, expect, it } from "vitest";
import { SiweChallenges, type SiweVerifier } from "./siwe.js";

const alice = privateKeyToAccount(generatePrivateKey());
const mallory = privateKeyToAccount(generatePrivateKey());
const OPTIONS = { domain: "clinic.example:8443", uri: "https://clinic.example:8443/auth", chainId: 31337 };

function clock(start = Date.UTC(2030, 0, 1)): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const unauthenticated = (message: string): unknown =>
  expect.objectContaining({ kind: "unauthenticated", message });

describe("SiweChallenges", () => {
  it("issues an EIP-4361 message and verifies its signature (happy path)", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    const { message, nonce, expiresAt } = await challenges.issue(alice.address.toLowerCase());
    const fields = parseSiweMessage(message);
    expect(fields).toMatchObject({
      address: alice.address,
      domain: OPTIONS.domain,
      uri: OPTIONS.uri,
      chainId: 31337,
      nonce,
    });
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(fields.expirationTime?.getTime()).toBe(expiresAt.getTime());
    const signature = await alice.signMessage({ message });
    await expect(challenges.verify({ message, signature })).resolves.toEqual({ address: alice.address });
    expect(await challenges.size()).toBe(0);
  });

  it("refuses a replayed message: the nonce is single use", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    const { message } = await challenges.issue(alice.address);
    const signature = await alice.signMessage({ message });
    await challenges.verify({ message, signature });
    await expect(challenges.verify({ message, signature })).rejects.toThrow(
      unauthenticated("SIWE nonce unknown or already used"),
    );
  });

  it("refuses concurrent verifications of the same message but one", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    const { message } = await challenges.issue(alice.address);
    const signature = await alice.signMessage({ message });
    const results = await Promise.allSettled([1, 2, 3].map(() => challenges.verify({ message, signature })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("refuses a nonce it never issued", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    const message = createSiweMessage({
      ...OPTIONS,
      address: alice.address,
      version: "1",
      nonce: "a1b2c3d4e5f6a7b8",
    });
    const signature = await alice.signMessage({ message });
    await expect(challenges.verify({ message, signature })).rejects.toThrow(
      unauthenticated("SIWE nonce unknown or already used"),
    );
  });

  it("refuses a message for another domain, uri or chain", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    for (const [other, reason] of [
      [{ domain: "evil.example" }, "SIWE domain mismatch"],
      [{ uri: "https://evil.example/auth" }, "SIWE uri mismatch"],
      [{ chainId: 1 }, "SIWE chain id mismatch"],
    ] as const) {
      const { nonce } = await challenges.issue(alice.address);
      const message = createSiweMessage({
        ...OPTIONS,
        ...other,
        address: alice.address,
        version: "1",
        nonce,
      });
      const signature = await alice.signMessage({ message });
      await expect(challenges.verify({ message, signature })).rejects.toThrow(unauthenticated(reason));
    }
  });

  it("refuses an expired challenge", async () => {
    const c = clock();
    const challenges = new SiweChallenges({ ...OPTIONS, ttlMs: 60_000, now: c.now });
    const { message } = await challenges.issue(alice.address);
    const signature = await alice.signMessage({ message });
    c.advance(60_000);
    await expect(challenges.verify({ message, signature })).rejects.toThrow(
      unauthenticated("SIWE message expired"),
    );
  });

  it("honours a narrower expirationTime in the signed message", async () => {
    const c = clock();
    const challenges = new SiweChallenges({ ...OPTIONS, ttlMs: 60_000, now: c.now });
    const { nonce } = await challenges.issue(alice.address);
    const message = createSiweMessage({
      ...OPTIONS,
      address: alice.address,
      version: "1",
      nonce,
      expirationTime: new Date(c.now() + 1_000),
    });
    const signature = await alice.signMessage({ message });
    c.advance(2_000);
    await expect(challenges.verify({ message, signature })).rejects.toThrow(
      unauthenticated("SIWE message expired or not yet valid"),
    );
  });

  it("refuses a signature by another account", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    const { message } = await challenges.issue(alice.address);
    const signature = await mallory.signMessage({ message });
    await expect(challenges.verify({ message, signature })).rejects.toThrow(
      unauthenticated("SIWE signature does not match the address"),
    );
  });

  it("refuses a challenge re-addressed to another account", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    const { nonce } = await challenges.issue(alice.address);
    const message = createSiweMessage({ ...OPTIONS, address: mallory.address, version: "1", nonce });
    const signature = await mallory.signMessage({ message });
    await expect(challenges.verify({ message, signature })).rejects.toThrow(
      unauthenticated("SIWE address does not match the challenge"),
    );
  });

  it("refuses malformed messages and signatures", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    await expect(challenges.verify({ message: "hello", signature: "0x00" })).rejects.toThrow(
      unauthenticated("SIWE message malformed"),
    );
    await expect(challenges.verify({ message: "x".repeat(5000), signature: "0x00" })).rejects.toThrow(
      unauthenticated("SIWE message malformed"),
    );
    const { message } = await challenges.issue(alice.address);
    await expect(challenges.verify({ message, signature: "0x1234" })).rejects.toThrow(
      unauthenticated("SIWE signature malformed"),
    );
    await expect(challenges.issue("not-an-address")).rejects.toThrow(
      expect.objectContaining({ kind: "invalid" }),
    );
  });

  it("keeps at most maxPending challenges, dropping the oldest", async () => {
    const challenges = new SiweChallenges({ ...OPTIONS, maxPending: 3 });
    const first = await challenges.issue(alice.address);
    for (let i = 0; i < 3; i++) await challenges.issue(alice.address);
    expect(await challenges.size()).toBe(3);
    const signature = await alice.signMessage({ message: first.message });
    await expect(challenges.verify({ message: first.message, signature })).rejects.toThrow(
      unauthenticated("SIWE nonce unknown or already used"),
    );
  });

  it("prunes expired challenges when issuing", async () => {
    const c = clock();
    const challenges = new SiweChallenges({ ...OPTIONS, ttlMs: 1_000, now: c.now });
    await challenges.issue(alice.address);
    await challenges.issue(alice.address);
    c.advance(1_000);
    await challenges.issue(alice.address);
    expect(await challenges.size()).toBe(1);
  });

  it("delegates to the public client when given one, and maps its failures", async () => {
    const challenges = new SiweChallenges(OPTIONS);
    const calls: unknown[] = [];
    const yes: SiweVerifier = {
      verifySiweMessage: (p) => {
        calls.push(p);
        return Promise.resolve(true);
      },
    };
    const { message, nonce } = await challenges.issue(alice.address);
    // A contract wallet's signature is not an EOA signature: only the client can check it.
    await expect(challenges.verify({ message, signature: "0xdeadbeef", publicClient: yes })).resolves.toEqual(
      {
        address: alice.address,
      },
    );
    expect(calls[0]).toMatchObject({
      address: alice.address,
      domain: OPTIONS.domain,
      nonce,
      signature: "0xdeadbeef",
    });

    const no: SiweVerifier = { verifySiweMessage: () => Promise.resolve(false) };
    const second = await challenges.issue(alice.address);
    await expect(
      challenges.verify({ message: second.message, signature: "0xdead", publicClient: no }),
    ).rejects.toThrow(unauthenticated("SIWE signature does not match the address"));

    const down: SiweVerifier = {
      verifySiweMessage: () => Promise.reject(new HttpRequestError({ url: "http://127.0.0.1:1" })),
    };
    const third = await challenges.issue(alice.address);
    await expect(
      challenges.verify({ message: third.message, signature: "0xdead", publicClient: down }),
    ).rejects.toThrow(
      expect.objectContaining({
        kind: "unavailable",
        message: "cannot verify the SIWE signature: ledger unreachable",
      }),
    );
  });
});
