import {
  getAddress,
  isAddressEqual,
  recoverTypedDataAddress,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import {
  GRANTEE_KINDS,
  KNOWN_ACTION_MASK,
  KNOWN_CATEGORY_MASK,
  KNOWN_PURPOSE_MASK,
} from "../model/vocabulary.js";
import { CONSENT_TYPES, type Grant } from "../model/consentTypes.js";
import { address, bytes32 as bytes32Schema, BYTES32_PATTERN, signatureHex } from "../model/schemas.js";
import {
  grantIdOf,
  type ConsentDomain,
  type GrantMessage,
  type RevokeMessage,
} from "../model/grantMessage.js";

export {
  ALL_NON_SENSITIVE_CATEGORIES,
  accountToBytes32,
  buildGrantMessage,
  buildRevokeMessage,
  bytes32ToAccount,
  bytes32ToRole,
  consentDomain,
  grantIdOf,
  newSalt,
  roleToBytes32,
  type ConsentDomain,
  type GrantInput,
  type GranteeInput,
  type GrantMessage,
  type RevokeMessage,
} from "../model/grantMessage.js";

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

function assertSigner(account: LocalAccount, patient: Address): void {
  if (!isAddressEqual(account.address, patient)) {
    throw new BaseError("invalid", "only the patient can sign their consent");
  }
}
