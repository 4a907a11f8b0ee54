import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { signTreeHead, treeHeadDigest, verifyTreeHead, type TreeHeadDomain } from "./treeHead.js";

const account = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const other = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const domain: TreeHeadDomain = {
  chainId: 31337,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const head = {
  treeSize: 42,
  rootHash: `0x${"ab".repeat(32)}` as const,
  mapRoot: `0x${"cd".repeat(32)}` as const,
  timestamp: 1_700_000_000,
};

describe("treeHead", () => {
  it("signs a head that verifies for its node only", async () => {
    const signed = await signTreeHead(account, head, domain);
    expect(signed.node).toBe(account.address);
    expect(await verifyTreeHead(signed, domain)).toBe(true);
    expect(await verifyTreeHead({ ...signed, node: other.address }, domain)).toBe(false);
  });

  it("rejects a changed size, root, map root, timestamp, chain or contract", async () => {
    const signed = await signTreeHead(account, head, domain);
    expect(await verifyTreeHead({ ...signed, treeSize: 43 }, domain)).toBe(false);
    expect(await verifyTreeHead({ ...signed, rootHash: `0x${"ac".repeat(32)}` }, domain)).toBe(false);
    expect(await verifyTreeHead({ ...signed, mapRoot: `0x${"ce".repeat(32)}` }, domain)).toBe(false);
    expect(await verifyTreeHead({ ...signed, timestamp: 1 }, domain)).toBe(false);
    expect(await verifyTreeHead(signed, { ...domain, chainId: 1 })).toBe(false);
    expect(await verifyTreeHead(signed, { ...domain, verifyingContract: other.address })).toBe(false);
    expect(await verifyTreeHead({ ...signed, signature: "0x1234" }, domain)).toBe(false);
  });

  it("hashes to a domain-separated digest", () => {
    const full = { ...head, node: account.address };
    expect(treeHeadDigest(full, domain)).toMatch(/^0x[0-9a-f]{64}$/);
    expect(treeHeadDigest(full, domain)).not.toBe(treeHeadDigest(full, { ...domain, chainId: 1 }));
  });
});
