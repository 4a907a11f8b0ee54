import {
  hashDomain,
  hashStruct,
  hashTypedData,
  pad,
  parseEventLogs,
  stringToHex,
  zeroHash,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentRegistryAbi as abi } from "../../src/chain/artifacts/ConsentRegistry.js";
import type { ChainClients } from "../../src/chain/clients.js";
import { actionMask, categoryMask, purposeMask } from "../../src/model/vocabulary.js";
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
  nonce: bigint;
}
interface Revoke {
  patient: Address;
  grantId: Hex;
  nonce: bigint;
}

const ORG_ID = stringToHex("general-hospital", { size: 32 });
const EIP712_DOMAIN_TYPES = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
] as const;

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
  const getGrant = (grantId: Hex) =>
    relayer.publicClient.readContract({ address, abi, functionName: "getGrant", args: [grantId] });

  /** A practitioner grant: labs and medications, for treatment, read-only, for a year. */
  async function grantOf(patient: Address, overrides: Partial<Grant> = {}): Promise<Grant> {
    return {
      patient,
      granteeKind: 0,
      grantee: pad(randomAccount().address.toLowerCase() as Hex),
      role: zeroHash,
      categories: categoryMask(["labs", "medications"]),
      purposes: purposeMask(["TREAT"]),
      actions: actionMask(["read"]),
      notBefore: now,
      notAfter: now + 365n * 86400n,
      nonce: await nonceOf(patient),
      ...overrides,
    };
  }
  const signGrant = (signer: LocalAccount, message: Grant) =>
    signer.signTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Grant", message });
  const signRevoke = (signer: LocalAccount, message: Revoke) =>
    signer.signTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Revoke", message });
  const submitGrant = (g: Grant, signature: Hex, by = relayer) =>
    by.walletClient.writeContract({ address, abi, functionName: "grant", args: [g, signature] });
  const submitRevoke = (r: Revoke, signature: Hex, by = relayer) =>
    by.walletClient.writeContract({ address, abi, functionName: "revoke", args: [r, signature] });
  const grantIdOf = (g: Grant) => hashStruct({ data: g, types: CONSENT_TYPES, primaryType: "Grant" });

  /** Grants on the patient's signature and returns the grant id. */
  async function granted(patient: LocalAccount, overrides: Partial<Grant> = {}): Promise<Hex> {
    const g = await grantOf(patient.address, overrides);
    await mined(relayer, submitGrant(g, await signGrant(patient, g)));
    return grantIdOf(g);
  }

  it("exposes its EIP-712 domain (ERC-5267)", async () => {
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
  });

  it("records a grant signed by the patient and relayed by anyone", async () => {
    const patient = randomAccount();
    const g = await grantOf(patient.address);
    expect(g.nonce).toBe(0n);
    const receipt = await mined(relayer, submitGrant(g, await signGrant(patient, g)));
    const block = await relayer.publicClient.getBlock({ blockNumber: receipt.blockNumber });

    const grantId = grantIdOf(g);
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ConsentGranted" });
    expect(event?.args).toEqual({ grantId, ...g });
    expect(await getGrant(grantId)).toEqual({
      grant: g,
      revoked: false,
      grantedAt: block.timestamp,
      revokedAt: 0n,
    });
    expect(await nonceOf(patient.address)).toBe(1n);
    expect(
      await relayer.publicClient.readContract({ address, abi, functionName: "hashGrant", args: [g] }),
    ).toBe(grantId);
    expect(
      await relayer.publicClient.readContract({ address, abi, functionName: "grantDigest", args: [g] }),
    ).toBe(hashTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Grant", message: g }));
  });

  it("records organization and role grants", async () => {
    const patient = randomAccount();
    const orgGrant = await granted(patient, { granteeKind: 1, grantee: ORG_ID });
    expect((await getGrant(orgGrant)).grant.granteeKind).toBe(1);
    const roleGrant = await granted(patient, {
      granteeKind: 2,
      grantee: ORG_ID,
      role: stringToHex("nurse", { size: 32 }),
      nonce: 1n,
    });
    expect((await getGrant(roleGrant)).grant.role).toBe(stringToHex("nurse", { size: 32 }));
    expect(await nonceOf(patient.address)).toBe(2n);
  });

  it("rejects a replayed grant", async () => {
    const patient = randomAccount();
    const g = await grantOf(patient.address);
    const signature = await signGrant(patient, g);
    await mined(relayer, submitGrant(g, signature));
    await expectRevert(submitGrant(g, signature), "ConsentInvalidNonce", [patient.address, 1n, 0n]);
  });

  it("rejects a grant signed with a nonce other than the next one", async () => {
    const patient = randomAccount();
    const g = await grantOf(patient.address, { nonce: 5n });
    await expectRevert(submitGrant(g, await signGrant(patient, g)), "ConsentInvalidNonce", [
      patient.address,
      0n,
      5n,
    ]);
  });

  it("rejects a forged or altered grant", async () => {
    const patient = randomAccount();
    const g = await grantOf(patient.address);
    await expectRevert(submitGrant(g, await signGrant(randomAccount(), g)), "ConsentInvalidSignature", [
      patient.address,
    ]);
    const widened = { ...g, categories: categoryMask(["labs", "medications", "genomics"]) };
    await expectRevert(submitGrant(widened, await signGrant(patient, g)), "ConsentInvalidSignature", [
      patient.address,
    ]);
    await expectRevert(submitGrant(g, "0xdeadbeef"), "ConsentInvalidSignature", [patient.address]);
    expect(await nonceOf(patient.address)).toBe(0n);
  });

  it("rejects malformed grants", async () => {
    const patient = randomAccount();
    const signed = async (overrides: Partial<Grant>) => {
      const g = await grantOf(patient.address, overrides);
      return submitGrant(g, await signGrant(patient, g));
    };
    await expectRevert(signed({ granteeKind: 3 }), "ConsentInvalidGranteeKind", [3]);
    await expectRevert(signed({ role: stringToHex("nurse", { size: 32 }) }), "ConsentInvalidRole");
    await expectRevert(signed({ granteeKind: 2, grantee: ORG_ID }), "ConsentInvalidRole");
    await expectRevert(signed({ categories: 0 }), "ConsentEmptyGrant");
    await expectRevert(signed({ actions: 0 }), "ConsentEmptyGrant");
    await expectRevert(signed({ notBefore: now + 10n, notAfter: now + 10n }), "ConsentInvalidWindow", [
      now + 10n,
      now + 10n,
    ]);
  });

  it("rejects a grant whose window has already ended", async () => {
    const patient = randomAccount();
    const latest = (await relayer.publicClient.getBlock()).timestamp;
    const g = await grantOf(patient.address, { notBefore: latest - 200n, notAfter: latest - 100n });
    const nextTimestamp = latest + 1000n;
    await f.testClient.setNextBlockTimestamp({ timestamp: nextTimestamp });
    await expectRevert(submitGrant(g, await signGrant(patient, g)), "ConsentExpired", [
      latest - 100n,
      nextTimestamp,
    ]);
  });

  describe("revoke", () => {
    it("revokes a grant on the patient's signature", async () => {
      const patient = randomAccount();
      const grantId = await granted(patient);
      const r = { patient: patient.address, grantId, nonce: 1n };
      const receipt = await mined(relayer, submitRevoke(r, await signRevoke(patient, r)));
      const block = await relayer.publicClient.getBlock({ blockNumber: receipt.blockNumber });
      const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ConsentRevoked" });
      expect(event?.args).toEqual({ grantId, patient: patient.address, revokedAt: block.timestamp });
      const record = await getGrant(grantId);
      expect({ revoked: record.revoked, revokedAt: record.revokedAt }).toEqual({
        revoked: true,
        revokedAt: block.timestamp,
      });
      expect(await nonceOf(patient.address)).toBe(2n);
      expect(
        await relayer.publicClient.readContract({ address, abi, functionName: "revokeDigest", args: [r] }),
      ).toBe(hashTypedData({ domain: domain(), types: CONSENT_TYPES, primaryType: "Revoke", message: r }));

      const again = { ...r, nonce: 2n };
      await expectRevert(submitRevoke(again, await signRevoke(patient, again)), "ConsentAlreadyRevoked", [
        grantId,
      ]);
    });

    it("rejects forged, replayed and mis-numbered revocations", async () => {
      const patient = randomAccount();
      const grantId = await granted(patient);
      const r = { patient: patient.address, grantId, nonce: 1n };
      await expectRevert(submitRevoke(r, await signRevoke(randomAccount(), r)), "ConsentInvalidSignature", [
        patient.address,
      ]);
      const skipped = { ...r, nonce: 7n };
      await expectRevert(submitRevoke(skipped, await signRevoke(patient, skipped)), "ConsentInvalidNonce", [
        patient.address,
        1n,
        7n,
      ]);
      const signature = await signRevoke(patient, r);
      await mined(relayer, submitRevoke(r, signature));
      await expectRevert(submitRevoke(r, signature), "ConsentInvalidNonce", [patient.address, 2n, 1n]);
    });

    it("rejects revoking an unknown grant or another patient's grant", async () => {
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
      expect((await getGrant(grantId)).revoked).toBe(false);
    });
  });

  it("accepts grants and revocations from an EIP-1271 contract wallet", async () => {
    const owner = randomAccount();
    const wallet = await deployWallet1271(relayer, owner.address);
    const g = await grantOf(wallet);
    await expectRevert(submitGrant(g, await signGrant(randomAccount(), g)), "ConsentInvalidSignature", [
      wallet,
    ]);
    const receipt = await mined(relayer, submitGrant(g, await signGrant(owner, g)));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ConsentGranted" });
    expect(event?.args.patient).toBe(wallet);
    const r = { patient: wallet, grantId: grantIdOf(g), nonce: 1n };
    await mined(relayer, submitRevoke(r, await signRevoke(owner, r)));
    expect((await getGrant(grantIdOf(g))).revoked).toBe(true);
  });
});
