import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPublicClient,
  createWalletClient,
  keccak256,
  toHex,
  hashTypedData,
  http,
  parseEventLogs,
  type Address,
} from "viem";
import { foundry } from "viem/chains";
import { privateKeyToAccount } from "viem/accounts";
import { consentRegistryAbi, consentRegistryBytecode } from "../chain/artifacts/ConsentRegistry.js";
import { startAnvil, type Anvil } from "../chain/anvil.js";
import { CONSENT_TYPES } from "../model/consentTypes.js";
import {
  buildGrantMessage,
  buildRevokeMessage,
  consentDomain,
  grantFromMessage,
  grantIdOf,
  signGrant,
  signRevoke,
  type ConsentDomain,
} from "./signConsent.js";

// anvil's first well-known development key: the relayer that pays for (zero-priced) transactions.
const relayer = privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const patient = privateKeyToAccount(`0x${"5a".repeat(32)}`);
// anvil runs with zero base fee and gas price, as a permissioned QBFT network would.
const ZERO_FEES = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const;

describe("signConsent against ConsentRegistry on anvil", () => {
  let anvil: Anvil;
  let registry: Address;
  let domain: ConsentDomain;
  let wallet: ReturnType<typeof createWalletClient>;
  let reader: ReturnType<typeof createPublicClient>;

  beforeAll(async () => {
    anvil = await startAnvil();
    const transport = http(anvil.rpcUrl);
    wallet = createWalletClient({ account: relayer, chain: foundry, transport });
    reader = createPublicClient({ chain: foundry, transport });
    const hash = await wallet.deployContract({
      abi: consentRegistryAbi,
      bytecode: consentRegistryBytecode,
      account: relayer,
      chain: foundry,
      ...ZERO_FEES,
    });
    const receipt = await reader.waitForTransactionReceipt({ hash });
    if (!receipt.contractAddress) throw new Error("no contract address");
    registry = receipt.contractAddress;
    domain = consentDomain(foundry.id, registry);
  });

  afterAll(async () => {
    await anvil?.stop();
  });

  const message = () =>
    buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "role", organization: `0x${"0c".repeat(32)}`, role: "physician" },
      categories: ["labs", "genomics"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: 1_700_000_000,
      notAfter: 4_000_000_000,
    });

  it("computes the same type hash and signed digest as the contract", async () => {
    const m = message();
    const typeHash = await reader.readContract({
      address: registry,
      abi: consentRegistryAbi,
      functionName: "GRANT_TYPEHASH",
    });
    const fields = CONSENT_TYPES.Grant.map((f) => `${f.type} ${f.name}`).join(",");
    expect(typeHash).toBe(keccak256(toHex(`Grant(${fields})`)));
    const digest = await reader.readContract({
      address: registry,
      abi: consentRegistryAbi,
      functionName: "grantDigest",
      args: [grantIdOf(m)],
    });
    expect(digest).toBe(hashTypedData({ domain, types: CONSENT_TYPES, primaryType: "Grant", message: m }));
  });

  it("has grants and revocations signed here accepted on chain, and tampered ones rejected", async () => {
    const m = message();
    const sig = await signGrant(patient, domain, m);
    await expect(
      reader.simulateContract({
        address: registry,
        abi: consentRegistryAbi,
        functionName: "grant",
        args: [patient.address, grantIdOf({ ...m, categories: m.categories | 1 }), sig],
        account: relayer,
      }),
    ).rejects.toThrow(/ConsentInvalidSignature/);

    const hash = await wallet.writeContract({
      address: registry,
      abi: consentRegistryAbi,
      functionName: "grant",
      args: [patient.address, grantIdOf(m), sig],
      account: relayer,
      chain: foundry,
      ...ZERO_FEES,
    });
    const receipt = await reader.waitForTransactionReceipt({ hash });
    const [granted] = parseEventLogs({
      abi: consentRegistryAbi,
      eventName: "ConsentGranted",
      logs: receipt.logs,
    });
    expect(granted?.args.grantId).toBe(grantIdOf(m));
    expect(grantFromMessage(m).grantId).toBe(grantIdOf(m));

    const r = buildRevokeMessage({ patient: patient.address, grantId: grantIdOf(m), nonce: 0n });
    const rhash = await wallet.writeContract({
      address: registry,
      abi: consentRegistryAbi,
      functionName: "revoke",
      args: [r, await signRevoke(patient, domain, r)],
      account: relayer,
      chain: foundry,
      ...ZERO_FEES,
    });
    const rreceipt = await reader.waitForTransactionReceipt({ hash: rhash });
    const [revoked] = parseEventLogs({
      abi: consentRegistryAbi,
      eventName: "ConsentRevoked",
      logs: rreceipt.logs,
    });
    expect(revoked?.args.grantId).toBe(grantIdOf(m));
  });
});
