import {
  decodeFunctionData,
  hashDomain,
  hashStruct,
  hashTypedData,
  keccak256,
  pad,
  parseEventLogs,
  stringToHex,
  toHex,
  zeroHash,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentRegistryAbi as abi } from "../../src/chain/artifacts/ConsentRegistry.js";
import type { ChainClients } from "../../src/chain/clients.js";
import { actionMask, categoryMask, purposeMask, SENSITIVE_MASK } from "../../src/model/vocabulary.js";
import { CONSENT_DOMAIN, CONSENT_TYPES } from "../../src/model/consentTypes.js";
import {
  deployWallet1271,
  expectRevert,
  mined,
  randomAccount,
  startChainFixture,
  type ChainFixture,
} from "./chainFixture.js";

interface Grant {
  patient: Address;
  granteeKind: number;
  grantee: Hex;
  role: Hex;
  categories: number;
  purposes: number;
  actions: number;
  notBefore: bigint;
  notAfter: bigint;
  salt: Hex;
}
interface Revoke {
  patient: Address;
  grantId: Hex;
  nonce: bigint;
}

const EIP712_DOMAIN_TYPES = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
] as const;

/**
 * ConsentRegistry holds commitments, not terms: a grant id (the EIP-712 struct hash of the signed
 * Grant, salted) recorded for the patient whose signature of its digest checks out, and its
 * revocation. Reverts are asserted by error name and arguments.
 */
describe("ConsentRegistry", () => {
  let f: ChainFixture;
  let relayer: ChainClients;
  let address: Address;
  let now: bigint;

  beforeAll(async () => {
    f = await startChainFixture();
    relayer = await f.connect();
    address = f.deployment.consentRegistry;
    now = (await relayer.publicClient.getBlock()).timestamp;
  });
  afterAll(async () => {
    await f?.stop();
  });

  const domain = () => ({ ...CONSENT_DOMAIN, chainId: f.deployment.chainId, verifyingContract: address });
  const nonceOf = (patient: Address) =>
    relayer.publicClient.readContract({ address, abi, functionName: "nonces", args: [patient] });
  const getGrant = (patient: Address, grantId: Hex) =>
    relayer.publicClient.readContract({ address, abi, functionName: "getGrant", args: [patient, grantId] });

  /** A practitioner grant of a sensitive category: mental health, for treatment, read-only, for a year. */
  function grantOf(patient: Address, overrides: Partial<Grant> = {}): Grant {
    return {
      patient,
      granteeKind: 0,
      grantee: pad(randomAccount().address.toLowerCase() as Hex),
      role: zeroHash,
      categories: categoryMask(["labs", "mental-health"]),
      purposes: purposeMask(["TREAT"]),
      actions: actionMask(["read"]),
      notBefore: now,
      notAfter: now + 365n * 86400n,
      salt: keccak256(toHex(`${patient}:${Math.random()}`)),
      ...overrides,
    };
  }
  const signGrant = (signer: LocalAccount, message: Grant) =>
    signer.signTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Grant", message });
  const signRevoke = (signer: LocalAccount, message: Revoke) =>
    signer.signTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Revoke", message });
  const submitGrant = (patient: Address, grantId: Hex, signature: Hex, by = relayer) =>
    by.walletClient.writeContract({
      address,
      abi,
      functionName: "grant",
      args: [patient, grantId, signature],
    });
  const submitRevoke = (r: Revoke, signature: Hex, by = relayer) =>
    by.walletClient.writeContract({ address, abi, functionName: "revoke", args: [r, signature] });
  const grantIdOf = (g: Grant) => hashStruct({ data: g, types: CONSENT_TYPES, primaryType: "Grant" });

  /** Grants on the patient's signature and returns the grant id. */
  async function granted(patient: LocalAccount, overrides: Partial<Grant> = {}): Promise<Hex> {
    const g = grantOf(patient.address, overrides);
    await mined(relayer, submitGrant(patient.address, grantIdOf(g), await signGrant(patient, g)));
    return grantIdOf(g);
  }

  it("exposes its EIP-712 domain (ERC-5267) and the Grant type hash", async () => {
    const [, name, version, chainId, verifyingContract] = await relayer.publicClient.readContract({
      address,
      abi,
      functionName: "eip712Domain",
    });
    expect({ name, version, chainId, verifyingContract }).toEqual({
      ...CONSENT_DOMAIN,
      chainId: BigInt(f.deployment.chainId),
      verifyingContract: address,
    });
    expect(await relayer.publicClient.readContract({ address, abi, functionName: "DOMAIN_SEPARATOR" })).toBe(
      hashDomain({
        domain: { ...domain(), chainId: BigInt(f.deployment.chainId) },
        types: { EIP712Domain: EIP712_DOMAIN_TYPES },
      }),
    );
    expect(await relayer.publicClient.readContract({ address, abi, functionName: "GRANT_TYPEHASH" })).toBe(
      keccak256(toHex(`Grant(${CONSENT_TYPES.Grant.map((t) => `${t.type} ${t.name}`).join(",")})`)),
    );
    expect(await relayer.publicClient.readContract({ address, abi, functionName: "CONSENT_VERSION" })).toBe(
      2,
    );
  });

  it("records a grant id signed by the patient and relayed by anyone; event and state carry no terms", async () => {
    const patient = randomAccount();
    const g = grantOf(patient.address);
    const grantId = grantIdOf(g);
    const receipt = await mined(relayer, submitGrant(patient.address, grantId, await signGrant(patient, g)));
    const block = await relayer.publicClient.getBlock({ blockNumber: receipt.blockNumber });

    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ConsentGranted" });
    expect(event?.args).toEqual({ grantId, patient: patient.address });
    // the log is the two indexed topics and nothing else: no grantee, category, purpose or window
    expect(receipt.logs).toHaveLength(1);
    expect(receipt.logs[0]!.data).toBe("0x");
    expect(await getGrant(patient.address, grantId)).toEqual({ grantedAt: block.timestamp, revokedAt: 0n });
    expect(
      await relayer.publicClient.readContract({ address, abi, functionName: "grantDigest", args: [grantId] }),
    ).toBe(hashTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Grant", message: g }));
    // the calldata is the patient, the id and the signature: no term is in it
    const tx = await relayer.publicClient.getTransaction({ hash: receipt.transactionHash });
    const { args } = decodeFunctionData({ abi, data: tx.input });
    expect(args).toHaveLength(3);
    expect(tx.input.toLowerCase()).not.toContain(g.grantee.slice(2).toLowerCase().replace(/^0+/u, ""));
    // grants do not use the revocation nonce
    expect(await nonceOf(patient.address)).toBe(0n);
  });

  it("gives grants whose terms differ only in a sensitive bit, or only in the salt, unrelated ids", () => {
    const patient = randomAccount().address;
    const g = grantOf(patient, { categories: categoryMask(["labs"]) });
    const withSensitive = { ...g, categories: g.categories | SENSITIVE_MASK };
    const resalted = { ...g, salt: keccak256(g.salt) };
    const ids = new Set([grantIdOf(g), grantIdOf(withSensitive), grantIdOf(resalted)]);
    expect(ids.size).toBe(3);
  });

  it("rejects a replayed grant id", async () => {
    const patient = randomAccount();
    const g = grantOf(patient.address);
    const signature = await signGrant(patient, g);
    await mined(relayer, submitGrant(patient.address, grantIdOf(g), signature));
    await expectRevert(submitGrant(patient.address, grantIdOf(g), signature), "ConsentGrantExists", [
      patient.address,
      grantIdOf(g),
    ]);
  });

  it("keeps commitments per patient: a grant id recorded first under another account blocks nothing", async () => {
    const patient = randomAccount();
    const squatter = randomAccount();
    const g = grantOf(patient.address);
    const grantId = grantIdOf(g);
    // the squatter signs the patient's grant id as if it were theirs
    const squat = await squatter.sign!({
      hash: hashTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Grant", message: g }),
    });
    await mined(relayer, submitGrant(squatter.address, grantId, squat));
    await mined(relayer, submitGrant(patient.address, grantId, await signGrant(patient, g)));
    expect((await getGrant(patient.address, grantId)).grantedAt).toBeGreaterThan(0n);
  });

  it("rejects a forged or altered grant, and a bad signature", async () => {
    const patient = randomAccount();
    const g = grantOf(patient.address);
    await expectRevert(
      submitGrant(patient.address, grantIdOf(g), await signGrant(randomAccount(), g)),
      "ConsentInvalidSignature",
      [patient.address],
    );
    const widened = { ...g, categories: categoryMask(["labs", "mental-health", "genomics"]) };
    await expectRevert(
      submitGrant(patient.address, grantIdOf(widened), await signGrant(patient, g)),
      "ConsentInvalidSignature",
      [patient.address],
    );
    await expectRevert(submitGrant(patient.address, grantIdOf(g), "0xdeadbeef"), "ConsentInvalidSignature", [
      patient.address,
    ]);
    expect(await getGrant(patient.address, grantIdOf(g))).toEqual({ grantedAt: 0n, revokedAt: 0n });
  });

  describe("revoke", () => {
    it("revokes a grant on the patient's signature", async () => {
      const patient = randomAccount();
      const grantId = await granted(patient);
      const r = { patient: patient.address, grantId, nonce: 0n };
      const receipt = await mined(relayer, submitRevoke(r, await signRevoke(patient, r)));
      const block = await relayer.publicClient.getBlock({ blockNumber: receipt.blockNumber });
      const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ConsentRevoked" });
      expect(event?.args).toEqual({ grantId, patient: patient.address, revokedAt: block.timestamp });
      expect((await getGrant(patient.address, grantId)).revokedAt).toBe(block.timestamp);
      expect(await nonceOf(patient.address)).toBe(1n);
      expect(
        await relayer.publicClient.readContract({ address, abi, functionName: "revokeDigest", args: [r] }),
      ).toBe(hashTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Revoke", message: r }));
    });

    it("rejects a double revoke", async () => {
      const patient = randomAccount();
      const grantId = await granted(patient);
      const r = { patient: patient.address, grantId, nonce: 0n };
      await mined(relayer, submitRevoke(r, await signRevoke(patient, r)));
      const again = { ...r, nonce: 1n };
      await expectRevert(submitRevoke(again, await signRevoke(patient, again)), "ConsentAlreadyRevoked", [
        grantId,
      ]);
    });

    it("rejects forged, replayed and mis-numbered revocations", async () => {
      const patient = randomAccount();
      const grantId = await granted(patient);
      const r = { patient: patient.address, grantId, nonce: 0n };
      await expectRevert(submitRevoke(r, await signRevoke(randomAccount(), r)), "ConsentInvalidSignature", [
        patient.address,
      ]);
      const skipped = { ...r, nonce: 7n };
      await expectRevert(submitRevoke(skipped, await signRevoke(patient, skipped)), "ConsentInvalidNonce", [
        patient.address,
        0n,
        7n,
      ]);
      const signature = await signRevoke(patient, r);
      await mined(relayer, submitRevoke(r, signature));
      await expectRevert(submitRevoke(r, signature), "ConsentInvalidNonce", [patient.address, 1n, 0n]);
    });

    it("rejects a revoke by someone else: an unknown grant, or another patient's grant", async () => {
      const patient = randomAccount();
      const unknown = {
        patient: patient.address,
        grantId: stringToHex("no such grant", { size: 32 }),
        nonce: 0n,
      };
      await expectRevert(submitRevoke(unknown, await signRevoke(patient, unknown)), "ConsentUnknownGrant", [
        unknown.grantId,
      ]);
      const victim = randomAccount();
      const grantId = await granted(victim);
      const hijack = { patient: patient.address, grantId, nonce: 0n };
      await expectRevert(submitRevoke(hijack, await signRevoke(patient, hijack)), "ConsentUnknownGrant", [
        grantId,
      ]);
      // signing as the victim without the victim's key
      const forged = { patient: victim.address, grantId, nonce: 0n };
      await expectRevert(submitRevoke(forged, await signRevoke(patient, forged)), "ConsentInvalidSignature", [
        victim.address,
      ]);
      expect((await getGrant(victim.address, grantId)).revokedAt).toBe(0n);
    });
  });

  it("accepts grants and revocations from an EIP-1271 contract wallet", async () => {
    const owner = randomAccount();
    const wallet = await deployWallet1271(relayer, owner.address);
    const g = grantOf(wallet);
    await expectRevert(
      submitGrant(wallet, grantIdOf(g), await signGrant(randomAccount(), g)),
      "ConsentInvalidSignature",
      [wallet],
    );
    const receipt = await mined(relayer, submitGrant(wallet, grantIdOf(g), await signGrant(owner, g)));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ConsentGranted" });
    expect(event?.args.patient).toBe(wallet);
    const r = { patient: wallet, grantId: grantIdOf(g), nonce: 0n };
    await mined(relayer, submitRevoke(r, await signRevoke(owner, r)));
    expect((await getGrant(wallet, grantIdOf(g))).revokedAt).toBeGreaterThan(0n);
  });
});
