/**
 * The research room's view of the ledger: the StudyEscrow and CareCredit contracts seen through
 * the node's outbox (writes) and a public client (reads). The study service (src/research) only
 * talks to this interface; the implementation that the node wires in lives beside it in
 * src/chain. Ids are bytes32 hex; amounts are credit units (CareCredit has two decimals); times
 * are Unix seconds. Nothing that identifies a patient crosses this interface: a participant is a
 * per-study pseudonym and is paid at a per-study payout address.
 */
import type { Address, Hex } from "viem";

/** A study's terms as the contract stores them. */
export interface StudyTerms {
  studyId: Hex;
  protocolHash: Hex;
  reward: bigint;
  maxParticipants: number;
  enrollmentStart: number;
  enrollmentEnd: number;
  minK: number;
  epsilonBudgetMicros: bigint;
}

/** A study's terms plus its state on the ledger. */
export interface StudyOnLedger extends StudyTerms {
  sponsor: Address;
  organization: Hex;
  escrowed: bigint;
  enrolled: number;
  epsilonSpentMicros: bigint;
  closed: boolean;
}

/** What one participant holds on the ledger. */
export interface ParticipantOnLedger {
  organization: Hex;
  payout: Address;
  withdrawn: boolean;
}

/** One credit movement a patient or a sponsor sees in their history. */
export interface CreditEvent {
  kind: "paid" | "refunded" | "escrowed" | "minted";
  studyId: Hex | null;
  amount: bigint;
  /** Address the credits went to (a payout address for "paid"). */
  to: Address;
  blockNumber: bigint;
  transactionHash: Hex;
}

/**
 * Every write is an outbox intent: acknowledged once it is durable in the node's database, sent by
 * the relayer, idempotent under its key (a write derived again after a crash is the same write).
 * Each returns the outbox id.
 */
export interface StudyLedger {
  /** Approves the escrow and registers the study (reward × maxParticipants escrowed). */
  registerStudy(terms: StudyTerms): Promise<{ outboxIds: number[] }>;
  enroll(
    studyId: Hex,
    participant: Hex,
    payout: Address,
    consentCommitment: Hex,
  ): Promise<{ outboxId: number }>;
  withdraw(studyId: Hex, participant: Hex): Promise<{ outboxId: number }>;
  recordRelease(
    studyId: Hex,
    releaseHash: Hex,
    epsilonMicros: bigint,
    k: number,
  ): Promise<{ outboxId: number }>;
  /** Pays one contribution; the contribution id makes a second payment of it a no-op on chain. */
  pay(studyId: Hex, participant: Hex, contribution: Hex): Promise<{ outboxId: number }>;
  close(studyId: Hex): Promise<{ outboxId: number }>;

  /** Reads (null when the study or participant is unknown on the ledger). */
  study(studyId: Hex): Promise<StudyOnLedger | null>;
  participant(studyId: Hex, participant: Hex): Promise<ParticipantOnLedger | null>;
  isPaid(studyId: Hex, contribution: Hex): Promise<boolean>;
  /** Credit balance of an address. */
  balanceOf(account: Address): Promise<bigint>;
  /** Credit movements to or from any of the addresses, oldest first. */
  history(accounts: readonly Address[]): Promise<CreditEvent[]>;
  /** Waits until the outbox intents are mined (or failed); for CLIs and tests. */
  settled(outboxIds: readonly number[], timeoutMs?: number): Promise<void>;
}
