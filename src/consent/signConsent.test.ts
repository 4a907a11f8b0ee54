import { describe, expect, it } from "vitest";
import { encodeAbiParameters, keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { BaseError } from "../errors/BaseError.js";
import { SENSITIVE_CATEGORIES, SENSITIVE_MASK, categoryMask } from "../model/vocabulary.js";
import { CONSENT_DOMAIN } from "../model/consentTypes.js";
import {
  ALL_NON_SENSITIVE_CATEGORIES,
  accountToBytes32,
  buildGrantMessage,
  buildRevokeMessage,
  bytes32ToAccount,
  bytes32ToRole,
  consentDomain,
  grantFromMessage,
  grantIdOf,
  isSignedByPatient,
  messageFromGrant,
  parseSignedGrant,
  parseSignedRevoke,
  recoverGrantSigner,
  recoverRevokeSigner,
  roleToBytes32,
  signGrant,
  signRevoke,
  signedGrantToJson,
} from "./signConsent.js";

const patient = privateKeyToAccount(`0x${"11".repeat(32)}`);
const stranger = privateKeyToAccount(`0x${"22".repeat(32)}`);
const doctor = privateKeyToAccount(`0x${"33".repeat(32)}`).address;
const ORG = `0x${"0a".repeat(32)}` as Hex;
const domain = consentDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");

const message = buildGrantMessage({
  patient: patient.address,
  grantee: { kind: "practitioner", account: doctor },
  categories: ["labs", "medications"],
  purposes: ["TREAT"],
  actions: ["read"],
  notBefore: new Date("2030-01-01T00:00:00Z"),
  notAfter: 1_900_000_000,
  salt: `0x${"5a".repeat(32)}`,
});

describe("signConsent", () => {
  it("builds the Grant with viem's types and contract encodings", () => {
    expect(domain).toEqual({
      ...CONSENT_DOMAIN,
      chainId: 31337,
      verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    });
    expect(message).toMatchObject({
      granteeKind: 0,
      grantee: accountToBytes32(doctor),
      role: `0x${"0".repeat(64)}`,
      categories: categoryMask(["labs", "medications"]),
      purposes: 1,
      actions: 1,
      notBefore: 1_893_456_000n,
      notAfter: 1_900_000_000n,
      salt: `0x${"5a".repeat(32)}`,
    });
    // without a given salt, each grant gets 32 fresh random bytes
    const a = buildGrantMessage(baseInput());
    const b = buildGrantMessage(baseInput());
    expect(a.salt).toMatch(/^0x[0-9a-f]{64}$/u);
    expect(a.salt).not.toBe(b.salt);
    expect(grantIdOf(a)).not.toBe(grantIdOf(b));
    const role = buildGrantMessage({
      ...baseInput(),
      grantee: { kind: "role", organization: ORG, role: "physician" },
    });
    expect(role.granteeKind).toBe(2);
    expect(bytes32ToRole(role.role)).toBe("physician");
  });

  it("computes the grant id as the EIP-712 struct hash of the terms, salt included", () => {
    const typeHash = keccak256(
      toHex(
        "Grant(address patient,uint8 granteeKind,bytes32 grantee,bytes32 role,uint32 categories,uint32 purposes,uint8 actions,uint64 notBefore,uint64 notAfter,bytes32 salt)",
      ),
    );
    const m = message;
    const expected = keccak256(
      encodeAbiParameters(
        [
          { type: "bytes32" },
          { type: "address" },
          { type: "uint8" },
          { type: "bytes32" },
          { type: "bytes32" },
          { type: "uint32" },
          { type: "uint32" },
          { type: "uint8" },
          { type: "uint64" },
          { type: "uint64" },
          { type: "bytes32" },
        ],
        [
          typeHash,
          m.patient,
          m.granteeKind,
          m.grantee,
          m.role,
          m.categories,
          m.purposes,
          m.actions,
          m.notBefore,
          m.notAfter,
          m.salt,
        ],
      ),
    );
    expect(grantIdOf(message)).toBe(expected);
    expect(grantIdOf({ ...message, salt: `0x${"5b".repeat(32)}` })).not.toBe(expected);
  });

  it("signs and recovers grants and revocations", async () => {
    const sig = await signGrant(patient, domain, message);
    expect(await recoverGrantSigner(domain, message, sig)).toBe(patient.address);
    expect(await isSignedByPatient(domain, message, sig)).toBe(true);
    expect(await isSignedByPatient(domain, { ...message, categories: SENSITIVE_MASK }, sig)).toBe(false);
    expect(await isSignedByPatient({ ...domain, chainId: 1 }, message, sig)).toBe(false);

    const revoke = buildRevokeMessage({ patient: patient.address, grantId: grantIdOf(message), nonce: 1n });
    const rsig = await signRevoke(patient, domain, revoke);
    expect(await recoverRevokeSigner(domain, revoke, rsig)).toBe(patient.address);
  });

  it("refuses to sign someone else's consent", async () => {
    await expect(signGrant(stranger, domain, message)).rejects.toThrow(
      "only the patient can sign their consent",
    );
  });

  it("rejects grants the contract would reject", () => {
    expect(() => buildGrantMessage({ ...baseInput(), categories: [] })).toThrow(BaseError);
    expect(() => buildGrantMessage({ ...baseInput(), notBefore: 10, notAfter: 10 })).toThrow(
      "notBefore must be before notAfter",
    );
    expect(() =>
      buildGrantMessage({ ...baseInput(), grantee: { kind: "role", organization: ORG, role: "" } }),
    ).toThrow("role name");
    expect(() =>
      buildGrantMessage({ ...baseInput(), grantee: { kind: "organization", organization: "0x12" } }),
    ).toThrow("organization must be 32 bytes");
  });

  it("offers an 'all' that holds no sensitive category", () => {
    expect(ALL_NON_SENSITIVE_CATEGORIES.some((c) => SENSITIVE_CATEGORIES.includes(c))).toBe(false);
    const all = buildGrantMessage({ ...baseInput(), categories: ALL_NON_SENSITIVE_CATEGORIES });
    expect(all.categories & SENSITIVE_MASK).toBe(0);
  });

  it("converts accounts and roles to bytes32 and back", () => {
    const padded = accountToBytes32(doctor);
    expect(padded).toMatch(/^0x0{24}[0-9a-f]{40}$/);
    expect(bytes32ToAccount(padded)).toBe(doctor);
    expect(() => bytes32ToAccount(`0x${"ff".repeat(32)}`)).toThrow("left-padded");
    expect(roleToBytes32("nurse")).toBe(`0x6e75727365${"0".repeat(54)}`);
    expect(() => roleToBytes32("r".repeat(33))).toThrow(BaseError);
  });

  it("round-trips the index's grant view", () => {
    const grant = grantFromMessage(message, 5);
    expect(grant).toMatchObject({
      grantId: grantIdOf(message),
      granteeKind: "practitioner",
      notBefore: 1_893_456_000,
      revokedAt: 5,
    });
    expect(messageFromGrant(grant)).toEqual(message);
  });
});

describe("signed consent JSON", () => {
  it("parses the HTTP form of a signed grant into viem's types", async () => {
    const sig = await signGrant(patient, domain, message);
    const json = JSON.parse(JSON.stringify(signedGrantToJson(message, sig))) as unknown;
    const parsed = parseSignedGrant(json);
    expect(parsed).toEqual({ message, signature: sig });
    expect(await recoverGrantSigner(domain, parsed.message, parsed.signature)).toBe(patient.address);
  });

  it.each([
    ["salt too short", (g: Record<string, unknown>) => ({ ...g, salt: "0x12" }), "grant.salt"],
    [
      "undefined category bit",
      (g: Record<string, unknown>) => ({ ...g, categories: 0xffffffff }),
      "grant.categories: unknown category bits",
    ],
    [
      "empty actions",
      (g: Record<string, unknown>) => ({ ...g, actions: 0 }),
      "grant.actions: at least one action",
    ],
    ["bad kind", (g: Record<string, unknown>) => ({ ...g, granteeKind: 3 }), "grant.granteeKind"],
    [
      "role on a practitioner grant",
      (g: Record<string, unknown>) => ({ ...g, role: roleToBytes32("nurse") }),
      "grant.role",
    ],
    ["empty window", (g: Record<string, unknown>) => ({ ...g, notAfter: g.notBefore }), "grant.notAfter"],
  ])("rejects %s", (_, mutate, field) => {
    const json = signedGrantToJson(message, "0x1234");
    let error: unknown;
    try {
      parseSignedGrant({ ...json, grant: mutate(json.grant as unknown as Record<string, unknown>) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BaseError);
    expect((error as BaseError).kind).toBe("invalid");
    expect((error as BaseError).details).toContain(field);
  });

  it("parses a signed revoke", () => {
    const grantId = grantIdOf(message);
    const parsed = parseSignedRevoke({
      revoke: { patient: patient.address.toLowerCase(), grantId, nonce: "1" },
      signature: "0xabcd",
    });
    expect(parsed.message).toEqual({ patient: patient.address, grantId, nonce: 1n });
    expect(() =>
      parseSignedRevoke({
        revoke: { patient: patient.address, grantId: "0x12", nonce: "1" },
        signature: "0xab",
      }),
    ).toThrow("invalid signed revoke");
  });
});

function baseInput() {
  return {
    patient: patient.address as Address,
    grantee: { kind: "organization" as const, organization: ORG },
    categories: ["labs" as const],
    purposes: ["TREAT" as const],
    actions: ["read" as const],
    notBefore: 1_800_000_000,
    notAfter: 1_900_000_000,
  };
}
