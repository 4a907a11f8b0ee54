import { randomBytes } from "node:crypto";
import {
  bytesToHex,
  getAddress,
  hashStruct,
  hexToString,
  isAddressEqual,
  pad,
  recoverTypedDataAddress,
  size,
  sliceHex,
  stringToHex,
  trim,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import {
  ACTIONS,
  CATEGORIES,
  GRANTEE_KINDS,
  KNOWN_ACTION_MASK,
  KNOWN_CATEGORY_MASK,
  KNOWN_PURPOSE_MASK,
  PURPOSES,
  SENSITIVE_CATEGORIES,
  actionMask,
  categoryMask,
  purposeMask,
  type Action,
  type Category,
  type Purpose,
} from "../model/vocabulary.js";
import { CONSENT_DOMAIN, CONSENT_TYPES, type Grant } from "../model/consentTypes.js";
import { address, bytes32 as bytes32Schema, BYTES32_PATTERN, signatureHex } from "../model/schemas.js";

/** The EIP-712 domain of a deployed ConsentRegistry (https://eips.ethereum.org/EIPS/eip-712). */
export interface ConsentDomain {
  name: typeof CONSENT_DOMAIN.name;
  version: typeof CONSENT_DOMAIN.version;
  chainId: number;
  verifyingContract: Address;
}

/** The Grant struct as viem signs it: uint8/uint32 as number, uint64/uint256 as bigint. */
export interface GrantMessage {
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

/** The Revoke struct as viem signs it. */
export interface RevokeMessage {
  patient: Address;
  grantId: Hex;
  nonce: bigint;
}

export type GranteeInput =
  | { kind: "practitioner"; account: Address }
  | { kind: "organization"; organization: Hex }
  | { kind: "role"; organization: Hex; role: string };

export interface GrantInput {
  patient: Address;
  grantee: GranteeInput;
  /** Sensitive categories are included only when named here one by one. */
  categories: readonly Category[];
  purposes: readonly Purpose[];
  actions: readonly Action[];
  /** Date, or unix seconds. */
  notBefore: Date | number;
  notAfter: Date | number;
  /** 32 random bytes by default; give one only to re-derive a grant (e.g. a resumed demo seed). */
  salt?: Hex;
}

const ZERO32: Hex = `0x${"0".repeat(64)}`;

/** Every category that is not sensitive: the widest "all" a helper may offer. */
export const ALL_NON_SENSITIVE_CATEGORIES: readonly Category[] = CATEGORIES.filter(
  (c) => !SENSITIVE_CATEGORIES.includes(c),
);

/**
 * The EIP-712 domain of the ConsentRegistry at `verifyingContract` on `chainId`.
 * @returns the domain to sign and verify consent messages with
 */
export function consentDomain(chainId: number | bigint, verifyingContract: Address): ConsentDomain {
  return { ...CONSENT_DOMAIN, chainId: Number(chainId), verifyingContract: getAddress(verifyingContract) };
}

/** bytes32 of a role name (UTF-8, right-padded), as a role grant names it on chain. */
export function roleToBytes32(name: string): Hex {
  if (name === "" || Buffer.byteLength(name, "utf8") > 32)
    throw new BaseError("invalid", "role name must be 1 to 32 bytes");
  return stringToHex(name, { size: 32 });
}

/** The role name held in a bytes32 (inverse of {@link roleToBytes32}). */
export function bytes32ToRole(role: Hex): string {
  return hexToString(role, { size: 32 });
}

/** An account left-padded to bytes32, as a practitioner grant names its grantee. */
export function accountToBytes32(account: Address): Hex {
  return pad(getAddress(account), { size: 32 }).toLowerCase() as Hex;
}

/** The account in a left-padded bytes32 (inverse of {@link accountToBytes32}). */
export function bytes32ToAccount(value: Hex): Address {
  if (size(value) !== 32 || trim(sliceHex(value, 0, 12), { dir: "left" }) !== "0x00") {
    throw new BaseError("invalid", "bytes32 does not hold a left-padded account");
  }
  return getAddress(sliceHex(value, 12));
}

/**
 * Builds the Grant a patient signs from friendly fields, checking what a node accepting it checks.
 * @param input - patient, grantee, categories, purposes, actions, validity window, optional salt
 * @returns the typed message for {@link signGrant} and {@link grantIdOf}
 */
export function buildGrantMessage(input: GrantInput): GrantMessage {
  for (const c of input.categories)
    if (!CATEGORIES.includes(c)) throw new BaseError("invalid", "unknown category");
  for (const p of input.purposes)
    if (!PURPOSES.includes(p)) throw new BaseError("invalid", "unknown purpose");
  for (const a of input.actions) if (!ACTIONS.includes(a)) throw new BaseError("invalid", "unknown action");
  if (input.categories.length === 0 || input.purposes.length === 0 || input.actions.length === 0) {
    throw new BaseError("invalid", "a grant needs at least one category, purpose and action");
  }
  const notBefore = toSeconds(input.notBefore);
  const notAfter = toSeconds(input.notAfter);
  if (notBefore >= notAfter) throw new BaseError("invalid", "notBefore must be before notAfter");
  const salt = input.salt === undefined ? newSalt() : bytes32(input.salt, "salt");
  const g = input.grantee;
  return {
    patient: getAddress(input.patient),
    granteeKind: GRANTEE_KINDS.indexOf(g.kind),
    grantee:
      g.kind === "practitioner" ? accountToBytes32(g.account) : bytes32(g.organization, "organization"),
    role: g.kind === "role" ? roleToBytes32(g.role) : ZERO32,
    categories: categoryMask(input.categories),
    purposes: purposeMask(input.purposes),
    actions: actionMask(input.actions),
    notBefore: BigInt(notBefore),
    notAfter: BigInt(notAfter),
    salt,
  };
}

/** 32 random bytes: a grant's salt, so its id cannot be found by hashing every plausible term set. */
export function newSalt(): Hex {
  return bytesToHex(randomBytes(32));
}

/** Builds the Revoke a patient signs to withdraw `grantId`. */
export function buildRevokeMessage(input: {
  patient: Address;
  grantId: Hex;
  nonce: bigint | number;
}): RevokeMessage {
  return {
    patient: getAddress(input.patient),
    grantId: bytes32(input.grantId, "grantId"),
    nonce: BigInt(input.nonce),
  };
}

/**
 * The patient signs a Grant (EIP-712 typed data, https://eips.ethereum.org/EIPS/eip-712).
 * @param account - the patient's local account; must be `message.patient`
 * @returns the 65-byte signature
 */
export async function signGrant(
  account: LocalAccount,
  domain: ConsentDomain,
  message: GrantMessage,
): Promise<Hex> {
  assertSigner(account, message.patient);
  return account.signTypedData({ domain, types: CONSENT_TYPES, primaryType: "Grant", message });
}

/** The patient signs a Revoke (EIP-712); `account` must be `message.patient`. */
export async function signRevoke(
  account: LocalAccount,
  domain: ConsentDomain,
  message: RevokeMessage,
): Promise<Hex> {
  assertSigner(account, message.patient);
  return account.signTypedData({ domain, types: CONSENT_TYPES, primaryType: "Revoke", message });
}

/**
 * The grant id: the EIP-712 struct hash of the Grant, the commitment ConsentRegistry records
 * (the patient signs its typed-data digest, `ConsentRegistry.grantDigest(grantId)`).
 */
export function grantIdOf(message: GrantMessage): Hex {
  return hashStruct({ data: message, primaryType: "Grant", types: CONSENT_TYPES });
}

/**
 * The account that signed a Grant. EOA signatures only: an EIP-1271 smart wallet's signature
 * is verified on chain by ConsentRegistry, not here.
 */
export async function recoverGrantSigner(
  domain: ConsentDomain,
  message: GrantMessage,
  signature: Hex,
): Promise<Address> {
  return recoverTypedDataAddress({ domain, types: CONSENT_TYPES, primaryType: "Grant", message, signature });
}

/** The account that signed a Revoke (EOA signatures only, as {@link recoverGrantSigner}). */
export async function recoverRevokeSigner(
  domain: ConsentDomain,
  message: RevokeMessage,
  signature: Hex,
): Promise<Address> {
  return recoverTypedDataAddress({ domain, types: CONSENT_TYPES, primaryType: "Revoke", message, signature });
}

/** True when `signature` is the patient's own EOA signature of the Grant. */
export async function isSignedByPatient(
  domain: ConsentDomain,
  message: GrantMessage,
  signature: Hex,
): Promise<boolean> {
  try {
    return isAddressEqual(await recoverGrantSigner(domain, message, signature), message.patient);
  } catch {
    return false;
  }
}

/**
 * The index's view of a signed Grant.
 * @param message - the signed Grant
 * @param revokedAt - unix seconds, when revoked
 */
export function grantFromMessage(message: GrantMessage, revokedAt?: number): Grant {
  const kind = GRANTEE_KINDS[message.granteeKind];
  if (kind === undefined) throw new BaseError("invalid", "unknown grantee kind");
  const grant: Grant = {
    grantId: grantIdOf(message),
    patient: message.patient.toLowerCase() as Address,
    granteeKind: kind,
    grantee: message.grantee.toLowerCase() as Hex,
    role: message.role.toLowerCase() as Hex,
    categories: message.categories,
    purposes: message.purposes,
    actions: message.actions,
    notBefore: Number(message.notBefore),
    notAfter: Number(message.notAfter),
    salt: message.salt.toLowerCase() as Hex,
  };
  if (revokedAt !== undefined) grant.revokedAt = revokedAt;
  return grant;
}

/** The Grant message a stored grant was signed as (inverse of {@link grantFromMessage}). */
export function messageFromGrant(grant: Grant): GrantMessage {
  return {
    patient: getAddress(grant.patient),
    granteeKind: GRANTEE_KINDS.indexOf(grant.granteeKind),
    grantee: grant.grantee,
    role: grant.role,
    categories: grant.categories,
    purposes: grant.purposes,
    actions: grant.actions,
    notBefore: BigInt(grant.notBefore),
    notAfter: BigInt(grant.notAfter),
    salt: grant.salt,
  };
}

const hexAddress = address;
const hexBytes32 = bytes32Schema;
const unixSeconds = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const uint256String = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, "expected a decimal integer")
  // zod runs a refinement even when the regex failed: convert only what the regex accepted
  .refine((s) => !/^[0-9]+$/.test(s) || BigInt(s) < 2n ** 256n, "exceeds uint256");
const mask = (known: number, what: string) =>
  z
    .number()
    .int()
    .min(1, `at least one ${what}`)
    .refine((m) => m <= 0xffffffff && (m & ~known) >>> 0 === 0, `unknown ${what} bits`);
const signature = signatureHex;

/**
 * The JSON form of a Grant (numbers for uint8/uint32/uint64, hex for bytes32), checked as a node
 * checks terms before accepting them: known bits only, at least one category, purpose and
 * action, a non-empty window, a role exactly for role grants.
 */
export const grantJsonSchema = z
  .object({
    patient: hexAddress,
    granteeKind: z
      .number()
      .int()
      .min(0)
      .max(GRANTEE_KINDS.length - 1),
    grantee: hexBytes32,
    role: hexBytes32,
    categories: mask(KNOWN_CATEGORY_MASK, "category"),
    purposes: mask(KNOWN_PURPOSE_MASK, "purpose"),
    actions: mask(KNOWN_ACTION_MASK, "action"),
    notBefore: unixSeconds,
    notAfter: unixSeconds,
    salt: hexBytes32,
  })
  .refine((g) => g.notBefore < g.notAfter, {
    message: "notBefore must be before notAfter",
    path: ["notAfter"],
  })
  .refine((g) => !BYTES32_PATTERN.test(g.role) || (g.granteeKind === 2) === (BigInt(g.role) !== 0n), {
    message: "role is required for role grants and must be zero otherwise",
    path: ["role"],
  });

/** A signed grant as it arrives over HTTP. */
export const signedGrantSchema = z.object({ grant: grantJsonSchema, signature });

/** The JSON form of a Revoke. */
export const revokeJsonSchema = z.object({ patient: hexAddress, grantId: hexBytes32, nonce: uint256String });

/** A signed revocation as it arrives over HTTP. */
export const signedRevokeSchema = z.object({ revoke: revokeJsonSchema, signature });

export type SignedGrantJson = z.infer<typeof signedGrantSchema>;
export type SignedRevokeJson = z.infer<typeof signedRevokeSchema>;

/**
 * Validates a signed grant from outside (HTTP body, CLI file) and types it for viem.
 * @throws BaseError "invalid" naming the offending fields
 */
export function parseSignedGrant(input: unknown): { message: GrantMessage; signature: Hex } {
  const { grant: g, signature: sig } = parseWith(signedGrantSchema, input, "signed grant");
  return {
    message: {
      patient: getAddress(g.patient),
      granteeKind: g.granteeKind,
      grantee: g.grantee.toLowerCase() as Hex,
      role: g.role.toLowerCase() as Hex,
      categories: g.categories,
      purposes: g.purposes,
      actions: g.actions,
      notBefore: BigInt(g.notBefore),
      notAfter: BigInt(g.notAfter),
      salt: g.salt.toLowerCase() as Hex,
    },
    signature: sig as Hex,
  };
}

/** Validates a signed revocation from outside and types it for viem. */
export function parseSignedRevoke(input: unknown): { message: RevokeMessage; signature: Hex } {
  const { revoke: r, signature: sig } = parseWith(signedRevokeSchema, input, "signed revoke");
  return {
    message: {
      patient: getAddress(r.patient),
      grantId: r.grantId.toLowerCase() as Hex,
      nonce: BigInt(r.nonce),
    },
    signature: sig as Hex,
  };
}

/** The JSON form of a signed Grant (inverse of {@link parseSignedGrant}). */
export function signedGrantToJson(message: GrantMessage, sig: Hex): SignedGrantJson {
  return {
    grant: {
      ...message,
      notBefore: Number(message.notBefore),
      notAfter: Number(message.notAfter),
    },
    signature: sig,
  };
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
  throw new BaseError("invalid", `invalid ${what}`, { details: fields, cause: result.error });
}

function toSeconds(value: Date | number): number {
  const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
  if (!Number.isSafeInteger(seconds) || seconds < 0)
    throw new BaseError("invalid", "times must be unix seconds");
  return seconds;
}

function bytes32(value: Hex, field: string): Hex {
  if (!BYTES32_PATTERN.test(value)) throw new BaseError("invalid", `${field} must be 32 bytes of hex`);
  return value.toLowerCase() as Hex;
}

function assertSigner(account: LocalAccount, patient: Address): void {
  if (!isAddressEqual(account.address, patient)) {
    throw new BaseError("invalid", "only the patient can sign their consent");
  }
}
