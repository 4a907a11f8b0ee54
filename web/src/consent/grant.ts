/**
 * The Grant and Revoke a patient signs in the browser: the same EIP-712 domain and types as the
 * node and the CLI (src/model/consentTypes.ts), the same masks (src/model/vocabulary.ts), and the
 * JSON the node's `POST /consents` takes (src/consent/signConsent.ts `signedGrantToJson`).
 */
import { bytesToHex, getAddress, hashStruct, pad, stringToHex, type Address, type Hex } from "viem";
import { CONSENT_TYPES } from "../../../src/model/consentTypes.js";
import {
  actionMask,
  categoryMask,
  GRANTEE_KINDS,
  purposeMask,
  type Category,
  type Purpose,
} from "../../../src/model/vocabulary.js";
import type { Signer } from "../auth/signer";

export interface ConsentDomain {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
}

export type Grantee =
  | { kind: "practitioner"; account: Address }
  | { kind: "organization"; organization: Hex }
  | { kind: "role"; organization: Hex; role: string };

export type GrantMessage = {
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
};

const ZERO32: Hex = `0x${"0".repeat(64)}`;

export function buildGrant(input: {
  patient: Address;
  grantee: Grantee;
  categories: readonly Category[];
  purposes: readonly Purpose[];
  notBefore: Date;
  notAfter: Date;
}): GrantMessage {
  const g = input.grantee;
  return {
    patient: getAddress(input.patient),
    granteeKind: GRANTEE_KINDS.indexOf(g.kind),
    grantee:
      g.kind === "practitioner"
        ? (pad(getAddress(g.account), { size: 32 }).toLowerCase() as Hex)
        : (g.organization.toLowerCase() as Hex),
    role: g.kind === "role" ? stringToHex(g.role, { size: 32 }) : ZERO32,
    categories: categoryMask(input.categories),
    purposes: purposeMask(input.purposes),
    actions: actionMask(["read"]),
    notBefore: BigInt(Math.floor(input.notBefore.getTime() / 1000)),
    notAfter: BigInt(Math.floor(input.notAfter.getTime() / 1000)),
    salt: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
  };
}

/** The grant id: the EIP-712 struct hash the ledger records. */
export const grantIdOf = (message: GrantMessage): Hex =>
  hashStruct({ data: message, primaryType: "Grant", types: CONSENT_TYPES });

export async function signGrant(
  signer: Signer,
  domain: ConsentDomain,
  message: GrantMessage,
): Promise<{ grant: object; signature: Hex }> {
  const signature = await signer.signTypedData({
    domain,
    types: CONSENT_TYPES,
    primaryType: "Grant",
    message,
  });
  return {
    grant: { ...message, notBefore: Number(message.notBefore), notAfter: Number(message.notAfter) },
    signature,
  };
}

export async function signRevoke(
  signer: Signer,
  domain: ConsentDomain,
  patient: Address,
  grantId: Hex,
  nonce: bigint,
): Promise<object> {
  const message = { patient: getAddress(patient), grantId, nonce };
  const signature = await signer.signTypedData({
    domain,
    types: CONSENT_TYPES,
    primaryType: "Revoke",
    message,
  });
  return { revoke: { patient: message.patient, grantId, nonce: nonce.toString() }, signature };
}

/** A grant as `GET /consents` shows it. */
export interface GrantView {
  grantId: Hex;
  grantee: { kind: "practitioner" | "organization" | "role"; id: Hex; role: Hex };
  categories: Category[];
  purposes: Purpose[];
  notBefore: string;
  notAfter: string;
  revokedAt: string | null;
}
