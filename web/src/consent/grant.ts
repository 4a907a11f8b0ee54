/**
 * The Grant and Revoke a patient signs in the browser: built by the node's and the CLI's own code
 * (src/model/grantMessage.ts), signed with the browser's signer, and sent as the JSON the node's
 * `POST /consents` takes (src/consent/signConsent.ts `signedGrantToJson`).
 */
import { getAddress, type Address, type Hex } from "viem";
import { CONSENT_TYPES } from "../../../src/model/consentTypes.js";
import {
  buildGrantMessage,
  grantIdOf,
  type ConsentDomain,
  type GranteeInput,
  type GrantMessage,
} from "../../../src/model/grantMessage.js";
import type { Category, Purpose } from "../../../src/model/vocabulary.js";
import type { Signer } from "../auth/signer";

export type {
  ConsentDomain,
  GrantMessage,
  GranteeInput as Grantee,
} from "../../../src/model/grantMessage.js";

/** A read-only grant from the patient's picks, checked as the node checks it. */
export function buildGrant(input: {
  patient: Address;
  grantee: GranteeInput;
  categories: readonly Category[];
  purposes: readonly Purpose[];
  notBefore: Date;
  notAfter: Date;
}): GrantMessage {
  return buildGrantMessage({ ...input, actions: ["read"] });
}

export { grantIdOf };

export async function signGrant(
  signer: Signer,
  domain: ConsentDomain,
  message: GrantMessage,
): Promise<{ grant: object; signature: Hex }> {
  const signature = await signer.signTypedData({
    domain,
    types: CONSENT_TYPES,
    primaryType: "Grant",
    message: { ...message },
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
