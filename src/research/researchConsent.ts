/**
 * The research consent a patient signs to enroll in a study (EIP-712,
 * https://eips.ethereum.org/EIPS/eip-712), and the per-study payout address their wallet derives.
 *
 * The consent names the purpose (HRESCH), the study, the categories released, the organization
 * whose node enrolls them (so it cannot be replayed at another node), the payout address, and
 * that they may withdraw. The node verifies the signature against the patient's account and puts
 * only a salted commitment to it on the ledger (keccak256(salt, typed-data hash)): the hash alone
 * could be recomputed from a known account and study, and would tie the patient to the topic.
 *
 * Payout address: the wallet signs `ResearchPayoutKey { studyId }` (EIP-712, its own domain) and
 * takes keccak256 of that signature as the private key of a fresh account. ECDSA signatures here
 * are deterministic (RFC 6979), so the same wallet re-derives the same key for the study whenever
 * it wants to spend; a different study gives an unrelated address, so payouts of two studies do
 * not link on chain; and the node only ever sees the address (inside the signed consent), never
 * the signature the key comes from, so it cannot spend the credits.
 */
import { hashTypedData, keccak256, concat, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount, type LocalAccount, type PrivateKeyAccount } from "viem/accounts";
import { BaseError } from "../errors/BaseError.js";
import { categoryMask, type Category } from "../model/vocabulary.js";

export const RESEARCH_CONSENT_DOMAIN = { name: "carechain research consent", version: "1" } as const;
export const RESEARCH_PAYOUT_DOMAIN = { name: "carechain research payout", version: "1" } as const;

export const RESEARCH_CONSENT_TYPES = {
  ResearchConsent: [
    { name: "patient", type: "address" },
    { name: "studyId", type: "bytes32" },
    { name: "organization", type: "bytes32" },
    { name: "purpose", type: "string" },
    { name: "categories", type: "uint32" },
    { name: "payout", type: "address" },
    { name: "mayWithdraw", type: "bool" },
    { name: "issuedAt", type: "uint64" },
  ],
} as const;

export const RESEARCH_PAYOUT_TYPES = {
  ResearchPayoutKey: [{ name: "studyId", type: "bytes32" }],
} as const;

/** The consent as signed. */
export interface ResearchConsent {
  patient: Address;
  studyId: Hex;
  organization: Hex;
  purpose: "HRESCH";
  categories: Category[];
  payout: Address;
  mayWithdraw: true;
  /** Unix seconds. */
  issuedAt: number;
}

const message = (c: ResearchConsent) => ({
  patient: c.patient,
  studyId: c.studyId,
  organization: c.organization,
  purpose: c.purpose,
  categories: categoryMask(c.categories) >>> 0,
  payout: c.payout,
  mayWithdraw: c.mayWithdraw,
  issuedAt: BigInt(c.issuedAt),
});

const domainOf = (chainId: number) => ({ ...RESEARCH_CONSENT_DOMAIN, chainId });

/** The EIP-712 hash of the consent (what the salted commitment covers). */
export function researchConsentHash(chainId: number, c: ResearchConsent): Hex {
  return hashTypedData({
    domain: domainOf(chainId),
    types: RESEARCH_CONSENT_TYPES,
    primaryType: "ResearchConsent",
    message: message(c),
  });
}

/** The patient's wallet signs the consent. */
export function signResearchConsent(
  account: LocalAccount,
  chainId: number,
  c: ResearchConsent,
): Promise<Hex> {
  if (!account.signTypedData) throw new BaseError("invalid", "the account cannot sign typed data");
  return account.signTypedData({
    domain: domainOf(chainId),
    types: RESEARCH_CONSENT_TYPES,
    primaryType: "ResearchConsent",
    message: message(c),
  });
}

/**
 * Checks that `signature` is the patient's over the consent.
 * @throws BaseError `forbidden` when another account signed it
 */
export async function verifyResearchConsent(
  chainId: number,
  c: ResearchConsent,
  signature: Hex,
): Promise<void> {
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: domainOf(chainId),
      types: RESEARCH_CONSENT_TYPES,
      primaryType: "ResearchConsent",
      message: message(c),
      signature,
    });
  } catch (cause) {
    throw new BaseError("invalid", "signature: not an EIP-712 signature", { cause, expression: "signature" });
  }
  if (signer.toLowerCase() !== c.patient.toLowerCase())
    throw new BaseError("forbidden", "the research consent must be signed by the patient it names", {
      code: "forbidden",
      expression: "signature",
    });
}

/** The commitment the ledger holds: keccak256(salt ‖ consent hash). */
export function consentCommitment(chainId: number, c: ResearchConsent, salt: Hex): Hex {
  return keccak256(concat([salt, researchConsentHash(chainId, c)]));
}

/**
 * The patient's payout account for a study (their wallet derives it; see the file comment).
 * @param wallet - The patient's account.
 * @param chainId - The ledger's chain id.
 * @param studyId - The study.
 */
export async function derivePayoutAccount(
  wallet: LocalAccount,
  chainId: number,
  studyId: Hex,
): Promise<PrivateKeyAccount> {
  if (!wallet.signTypedData) throw new BaseError("invalid", "the account cannot sign typed data");
  const seed = await wallet.signTypedData({
    domain: { ...RESEARCH_PAYOUT_DOMAIN, chainId },
    types: RESEARCH_PAYOUT_TYPES,
    primaryType: "ResearchPayoutKey",
    message: { studyId },
  });
  return privateKeyToAccount(keccak256(seed));
}
