/**
 * The Grant and Revoke a patient signs, built from friendly fields: the same code for the node, the
 * CLI and the browser (web/src/consent/grant.ts), so all three sign the same bytes. No Node-only
 * APIs here; verification, JSON forms and signing with a local account are in
 * src/consent/signConsent.ts.
 */
import {
  bytesToHex,
  getAddress,
  hashStruct,
  hexToString,
  pad,
  size,
  sliceHex,
  stringToHex,
  trim,
  type Address,
  type Hex,
} from "viem";
import { BaseError } from "../errors/BaseError.js";
import { CONSENT_DOMAIN, CONSENT_TYPES } from "./consentTypes.js";
import {
  ACTIONS,
  CATEGORIES,
  GRANTEE_KINDS,
  PURPOSES,
  SENSITIVE_CATEGORIES,
  actionMask,
  categoryMask,
  purposeMask,
  type Action,
  type Category,
  type Purpose,
} from "./vocabulary.js";

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
  if (name === "" || new TextEncoder().encode(name).length > 32)
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
  return bytesToHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
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
 * The grant id: the EIP-712 struct hash of the Grant, the commitment ConsentRegistry records
 * (the patient signs its typed-data digest, `ConsentRegistry.grantDigest(grantId)`).
 */
export function grantIdOf(message: GrantMessage): Hex {
  return hashStruct({ data: message, primaryType: "Grant", types: CONSENT_TYPES });
}

function toSeconds(value: Date | number): number {
  const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
  if (!Number.isSafeInteger(seconds) || seconds < 0)
    throw new BaseError("invalid", "times must be unix seconds");
  return seconds;
}

function bytes32(value: Hex, field: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new BaseError("invalid", `${field} must be 32 bytes of hex`);
  return value.toLowerCase() as Hex;
}
