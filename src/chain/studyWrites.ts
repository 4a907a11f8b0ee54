/**
 * The research writes' outbox keys and the checks of their arguments, shared by the node's
 * {@link StudyLedgerClient} (src/chain/studyLedgerClient.ts) and by minting, which the consortium
 * governor does outside any study. Argument errors name the argument, never its value.
 */
import { zeroAddress, type Address, type Hex } from "viem";
import { invalid } from "../errors/BaseError.js";
import { decodeArgs, type Outbox, type OutboxRow } from "./outbox.js";
import type { StudyTerms } from "./studyLedger.js";

const BYTES32 = /^0x[0-9a-f]{64}$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
export const UINT32_MAX = 2 ** 32 - 1;
export const UINT64_MAX = 2n ** 64n - 1n;

/** Outbox key prefixes of the research writes (each followed by what identifies the write). */
export const STUDY_KEYS = {
  approve: "research:approve:",
  register: "research:register:",
  enroll: "research:enroll:",
  withdraw: "research:withdraw:",
  release: "research:release:",
  pay: "research:pay:",
  close: "research:close:",
  mint: "credits:mint:",
} as const;

/**
 * Intends a mint of `amount` credit units to `to` (the sender must hold MINTER_ROLE: the consortium
 * governor). `reference` makes it idempotent: the same reference is the same mint, whatever the
 * number of calls; a different mint needs a different reference.
 */
export function intendMint(
  outbox: Outbox,
  to: Address,
  amount: bigint,
  reference: string,
): Promise<{ id: number; created: boolean }> {
  const account = address(to, "to");
  if (account === zeroAddress) throw invalid("to must not be the zero address");
  if (typeof amount !== "bigint" || amount <= 0n) throw invalid("amount must be a positive number of units");
  if (!/^[A-Za-z0-9:._-]{1,128}$/.test(reference))
    throw invalid("reference must be 1 to 128 letters, digits or : . _ -");
  return outbox.intend({
    key: `${STUDY_KEYS.mint}${reference}`,
    contract: "CareCredit",
    functionName: "mint",
    args: [account, amount],
  });
}

export function validTerms(terms: StudyTerms): StudyTerms {
  const uint = (value: number, name: string, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      throw invalid(`${name} must be an integer from ${min} to ${max}`);
    return value;
  };
  if (typeof terms.reward !== "bigint" || terms.reward <= 0n) throw invalid("reward must be positive");
  if (
    typeof terms.epsilonBudgetMicros !== "bigint" ||
    terms.epsilonBudgetMicros <= 0n ||
    terms.epsilonBudgetMicros > UINT64_MAX
  )
    throw invalid("epsilonBudgetMicros must be a positive uint64");
  const t: StudyTerms = {
    studyId: bytes32(terms.studyId, "studyId"),
    protocolHash: bytes32(terms.protocolHash, "protocolHash"),
    reward: terms.reward,
    maxParticipants: uint(terms.maxParticipants, "maxParticipants", 1, UINT32_MAX),
    enrollmentStart: uint(terms.enrollmentStart, "enrollmentStart", 0, Number.MAX_SAFE_INTEGER),
    enrollmentEnd: uint(terms.enrollmentEnd, "enrollmentEnd", 0, Number.MAX_SAFE_INTEGER),
    minK: uint(terms.minK, "minK", 2, UINT32_MAX),
    epsilonBudgetMicros: terms.epsilonBudgetMicros,
  };
  if (t.enrollmentEnd <= t.enrollmentStart) throw invalid("enrollmentEnd must be after enrollmentStart");
  return t;
}

export function escrowOfRegistration(row: OutboxRow): bigint {
  const args = decodeArgs(row.args);
  return (args[2] as bigint) * BigInt(args[3] as number);
}

export function bytes32(value: Hex, name: string): Hex {
  const v = typeof value === "string" ? (value.toLowerCase() as Hex) : value;
  if (typeof v !== "string" || !BYTES32.test(v)) throw invalid(`${name} must be 32 bytes of 0x-prefixed hex`);
  return v;
}

export function address(value: Address, name: string): Address {
  const v = typeof value === "string" ? (value.toLowerCase() as Address) : value;
  if (typeof v !== "string" || !ADDRESS.test(v)) throw invalid(`${name} must be a 0x-prefixed address`);
  return v;
}
