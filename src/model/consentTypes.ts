/**
 * What a patient signs and what the node holds of it: the EIP-712 domain and types of
 * ConsentRegistry, and a grant's terms as a node indexes them. The ledger holds only each grant's
 * id (the struct hash of the signed Grant), its patient and its revocation; the terms travel
 * between nodes (docs/ledger-privacy.md).
 */
import type { GranteeKind } from "./vocabulary.js";

/** EIP-712 domain name/version of ConsentRegistry. */
export const CONSENT_DOMAIN = { name: "carechain ConsentRegistry", version: "2" } as const;

/** EIP-712 types the patient signs (https://eips.ethereum.org/EIPS/eip-712). */
export const CONSENT_TYPES = {
  Grant: [
    { name: "patient", type: "address" },
    { name: "granteeKind", type: "uint8" },
    { name: "grantee", type: "bytes32" },
    { name: "role", type: "bytes32" },
    { name: "categories", type: "uint32" },
    { name: "purposes", type: "uint32" },
    { name: "actions", type: "uint8" },
    { name: "notBefore", type: "uint64" },
    { name: "notAfter", type: "uint64" },
    { name: "salt", type: "bytes32" },
  ],
  Revoke: [
    { name: "patient", type: "address" },
    { name: "grantId", type: "bytes32" },
    { name: "nonce", type: "uint256" },
  ],
} as const;

/**
 * A patient's grant as the node holds it: the signed terms, once their commitment is confirmed on
 * the ledger, plus its revocation time. Hex strings are `0x`-prefixed; `grantId` is the EIP-712
 * struct hash of the signed Grant.
 */
export interface Grant {
  grantId: `0x${string}`;
  patient: `0x${string}`;
  granteeKind: GranteeKind;
  /** Practitioner account left-padded to bytes32, or the organization id. */
  grantee: `0x${string}`;
  /** bytes32 of the role name for `role` grants, zero otherwise. */
  role: `0x${string}`;
  categories: number;
  purposes: number;
  actions: number;
  /** Unix seconds, inclusive. */
  notBefore: number;
  /** Unix seconds, exclusive. */
  notAfter: number;
  /** Random 256 bits that keep the grant id from being searched from the terms. */
  salt: `0x${string}`;
  /** Unix seconds at which the patient revoked the grant. */
  revokedAt?: number;
}
