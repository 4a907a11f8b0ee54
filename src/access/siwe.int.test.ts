import { createPublicClient, http, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnvil, type Anvil } from "../chain/anvil.js";
import { SiweChallenges } from "./siwe.js";

describe("SIWE verified on the ledger (publicClient.verifySiweMessage)", () => {
  let anvil: Anvil;
  let publicClient: PublicClient;
  const alice = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());

  beforeAll(async () => {
    anvil = await startAnvil();
    publicClient = createPublicClient({ transport: http(anvil.rpcUrl) });
  });

  afterAll(async () => {
    await anvil.stop();
  });

  it("accepts an EOA signature checked through the ledger, and refuses another signer", async () => {
    const challenges = new SiweChallenges({
      domain: "node.example",
      uri: "https://node.example/auth",
      chainId: 31337,
    });
    const first = await challenges.issue(alice.address);
    await expect(
      challenges.verify({ message: first.message, signature: await alice.signMessage(first), publicClient }),
    ).resolves.toEqual({ address: alice.address });

    const second = await challenges.issue(alice.address);
    await expect(
      challenges.verify({
        message: second.message,
        signature: await mallory.signMessage(second),
        publicClient,
      }),
    ).rejects.toThrow(
      expect.objectContaining({
        kind: "unauthenticated",
        message: "SIWE signature does not match the address",
      }),
    );
  });

  it("needs no ledger for an EOA signature, and fails closed without one otherwise", async () => {
    const down = createPublicClient({
      transport: http("http://127.0.0.1:9", { retryCount: 0, timeout: 2_000 }),
    });
    const challenges = new SiweChallenges({
      domain: "node.example",
      uri: "https://node.example/auth",
      chainId: 31337,
    });
    const first = await challenges.issue(alice.address);
    await expect(
      challenges.verify({
        message: first.message,
        signature: await alice.signMessage(first),
        publicClient: down,
      }),
    ).resolves.toEqual({ address: alice.address });
    // Not alice's EOA signature: only the ledger could say whether alice is a contract that accepts
    // it. viem 2.57 folds the transport failure of that call into "not valid", so the answer is no.
    const second = await challenges.issue(alice.address);
    await expect(
      challenges.verify({
        message: second.message,
        signature: await mallory.signMessage(second),
        publicClient: down,
      }),
    ).rejects.toThrow(expect.objectContaining({ kind: "unauthenticated" }));
  });
});
