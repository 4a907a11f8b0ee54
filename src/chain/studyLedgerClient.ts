/**
 * The node's {@link StudyLedger}: writes to StudyEscrow and CareCredit as outbox intents (the
 * relayer signs and sends them with the node's key, exactly once), reads through a public client,
 * credit histories from what the indexer kept (src/chain/creditMovements.ts).
 *
 * Every intent's key is derived from what it writes, never from the clock: a study's registration
 * by its id, an enrollment by study and participant, a payout by study and contribution, a release
 * by study and release hash. A write derived again after a crash finds its committed intent and
 * returns it, so each contribution is paid at most once by this node (and the contract's `isPaid`
 * makes a payment sent twice pay once).
 *
 * Before an intent is committed, the ledger's state and this node's intents not yet mined are
 * checked against the contract's rules (study known and open, window, room, k, ε, escrow, sponsor's
 * balance), so bad input is a clear error now, not a failed outbox row later.
 */
import {
  BaseError as ViemError,
  ContractFunctionRevertedError,
  getAddress,
  isAddressEqual,
  maxUint256,
  zeroAddress,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import type { Kysely } from "kysely";
import { conflict, forbidden, invalid, notFound } from "../errors/BaseError.js";
import type { Schema } from "../store/schema.js";
import {
  STUDY_KEYS,
  UINT32_MAX,
  UINT64_MAX,
  address,
  bytes32,
  escrowOfRegistration,
  validTerms,
} from "./studyWrites.js";
import { careCreditAbi } from "./artifacts/CareCredit.js";
import { studyEscrowAbi } from "./artifacts/StudyEscrow.js";
import { creditHistory } from "./creditMovements.js";
import { decodeArgs, encodeArgs, type Intent, type Outbox, type OutboxRow } from "./outbox.js";
import type {
  CreditEvent,
  ParticipantOnLedger,
  StudyLedger,
  StudyOnLedger,
  StudyTerms,
} from "./studyLedger.js";

const DEFAULT_SETTLE_MS = 60_000;

export interface StudyLedgerClientOptions {
  outbox: Outbox;
  db: Kysely<Schema>;
  publicClient: PublicClient;
  careCredit: Address;
  studyEscrow: Address;
  /** The node's account: the sender of every intent, the sponsor of the studies it registers. */
  node: Address;
  /** The node's organization (bytes32): the one that enrolls, pays and records releases. */
  organizationId: Hex;
  /** Resolves once the indexer has handled block `block` (so a history read after `settled` is complete). */
  waitForBlock?: ((block: bigint, timeoutMs: number) => Promise<void>) | undefined;
}

/** The node's StudyLedger over its outbox (see the module comment). */
export class StudyLedgerClient implements StudyLedger {
  readonly #o: StudyLedgerClientOptions;
  readonly #escrow: Address;
  /** Checks and intents run one at a time in this process, so two writes never pass the same check. */
  #serial: Promise<unknown> = Promise.resolve();

  constructor(options: StudyLedgerClientOptions) {
    this.#o = options;
    this.#escrow = options.studyEscrow;
  }

  /**
   * Approves StudyEscrow to draw this node's credits, then registers the study (reward ×
   * maxParticipants escrowed). The approval is of the maximum and made once per node (key
   * `research:approve:<escrow>`): StudyEscrow draws only in `registerStudy` and only from its
   * caller, so the allowance lets only this node's own registrations draw; an allowance per study
   * would let two registrations in flight overwrite each other's approval.
   */
  registerStudy(terms: StudyTerms): Promise<{ outboxIds: number[] }> {
    return this.#serially(async () => {
      const t = validTerms(terms);
      const escrow = t.reward * BigInt(t.maxParticipants);
      const register: Intent = {
        key: `${STUDY_KEYS.register}${t.studyId}`,
        contract: "StudyEscrow",
        functionName: "registerStudy",
        args: [
          t.studyId,
          t.protocolHash,
          t.reward,
          t.maxParticipants,
          BigInt(t.enrollmentStart),
          BigInt(t.enrollmentEnd),
          t.minK,
          t.epsilonBudgetMicros,
        ],
      };
      const approve: Intent = {
        key: `${STUDY_KEYS.approve}${this.#escrow.toLowerCase()}`,
        contract: "CareCredit",
        functionName: "approve",
        args: [this.#escrow.toLowerCase(), maxUint256],
      };
      const committed = await this.#committed(
        register,
        "a study with this id was registered with other terms",
      );
      if (committed !== undefined) {
        const approved = await this.#o.outbox.byKey(approve.key);
        return { outboxIds: approved ? [approved.id, committed] : [committed] };
      }
      if ((await this.study(t.studyId)) !== null) throw conflict("a study with this id exists on the ledger");
      const block = await this.#block();
      const balance = await this.#o.publicClient.readContract({
        address: this.#o.careCredit,
        abi: careCreditAbi,
        functionName: "balanceOf",
        args: [this.#o.node],
        blockNumber: block,
      });
      const pending = await this.#inFlight(STUDY_KEYS.register, block);
      const reserved = pending.reduce((sum, row) => sum + escrowOfRegistration(row), 0n);
      if (balance - reserved < escrow) {
        throw conflict("the sponsor's credits do not cover reward × maxParticipants", {
          details: `escrow needs ${escrow} units; the node holds ${balance}, of which ${reserved} are reserved by registrations in flight`,
        });
      }
      const approved = await this.#o.outbox.intend(approve);
      const registered = await this.#o.outbox.intend(register);
      return { outboxIds: [approved.id, registered.id] };
    });
  }

  enroll(
    studyId: Hex,
    participant: Hex,
    payout: Address,
    consentCommitment: Hex,
  ): Promise<{ outboxId: number }> {
    return this.#serially(async () => {
      const s = bytes32(studyId, "studyId");
      const p = bytes32(participant, "participant");
      const to = address(payout, "payout");
      if (to === zeroAddress) throw invalid("payout must not be the zero address");
      const intent: Intent = {
        key: `${STUDY_KEYS.enroll}${s}:${p}`,
        contract: "StudyEscrow",
        functionName: "enroll",
        args: [s, p, to, bytes32(consentCommitment, "consentCommitment")],
      };
      const committed = await this.#committed(intent, "the participant is already enrolled in this study");
      if (committed !== undefined) return { outboxId: committed };
      const block = await this.#block();
      const study = await this.#studyOrIntended(s, block);
      if (study.closed || (await this.#intended(`${STUDY_KEYS.close}${s}`)))
        throw conflict("the study is closed");
      const now = Number((await this.#o.publicClient.getBlock({ blockNumber: block })).timestamp);
      if (now < study.enrollmentStart || now > study.enrollmentEnd)
        throw conflict("the study's enrollment window is not open");
      const inFlight = (await this.#inFlight(`${STUDY_KEYS.enroll}${s}:`, block)).length;
      if (study.enrolled + inFlight >= study.maxParticipants) throw conflict("the study is full");
      if ((await this.participant(s, p)) !== null)
        throw conflict("the participant is already enrolled in this study");
      return { outboxId: (await this.#o.outbox.intend(intent)).id };
    });
  }

  withdraw(studyId: Hex, participant: Hex): Promise<{ outboxId: number }> {
    return this.#serially(async () => {
      const s = bytes32(studyId, "studyId");
      const p = bytes32(participant, "participant");
      const intent: Intent = {
        key: `${STUDY_KEYS.withdraw}${s}:${p}`,
        contract: "StudyEscrow",
        functionName: "withdraw",
        args: [s, p],
      };
      const committed = await this.#committed(intent, "");
      if (committed !== undefined) return { outboxId: committed };
      await this.#enrolledHere(s, p);
      return { outboxId: (await this.#o.outbox.intend(intent)).id };
    });
  }

  recordRelease(
    studyId: Hex,
    releaseHash: Hex,
    epsilonMicros: bigint,
    k: number,
  ): Promise<{ outboxId: number }> {
    return this.#serially(async () => {
      const s = bytes32(studyId, "studyId");
      const hash = bytes32(releaseHash, "releaseHash");
      if (typeof epsilonMicros !== "bigint" || epsilonMicros < 0n || epsilonMicros > UINT64_MAX)
        throw invalid("epsilonMicros must be a uint64");
      if (!Number.isInteger(k) || k < 0 || k > UINT32_MAX) throw invalid("k must be a uint32");
      const intent: Intent = {
        key: `${STUDY_KEYS.release}${s}:${hash}`,
        contract: "StudyEscrow",
        functionName: "recordRelease",
        args: [s, hash, epsilonMicros, k],
      };
      const committed = await this.#committed(intent, "this release was recorded with another ε or k");
      if (committed !== undefined) return { outboxId: committed };
      const block = await this.#block();
      const study = await this.#studyOrIntended(s, block);
      if (k < study.minK) throw conflict("the release's k is below the study's minimum k");
      const pending = (await this.#inFlight(`${STUDY_KEYS.release}${s}:`, block)).reduce(
        (sum, row) => sum + (decodeArgs(row.args)[2] as bigint),
        0n,
      );
      const left = study.epsilonBudgetMicros - study.epsilonSpentMicros - pending;
      if (epsilonMicros > left)
        throw conflict("the release would exceed the study's privacy budget", {
          details: `asks ${epsilonMicros} µε, ${left < 0n ? 0n : left} µε left`,
        });
      return { outboxId: (await this.#o.outbox.intend(intent)).id };
    });
  }

  pay(studyId: Hex, participant: Hex, contribution: Hex): Promise<{ outboxId: number }> {
    return this.#serially(async () => {
      const s = bytes32(studyId, "studyId");
      const p = bytes32(participant, "participant");
      const c = bytes32(contribution, "contribution");
      const intent: Intent = {
        key: `${STUDY_KEYS.pay}${s}:${c}`,
        contract: "StudyEscrow",
        functionName: "pay",
        args: [s, p, c],
      };
      // a payout derived again (a retry, a resumed run) is the committed one: never a second
      const committed = await this.#committed(intent, "this contribution is paid to another participant");
      if (committed !== undefined) return { outboxId: committed };
      const block = await this.#block();
      const study = await this.#studyOrIntended(s, block);
      if (study.closed || (await this.#intended(`${STUDY_KEYS.close}${s}`)))
        throw conflict("the study is closed");
      await this.#enrolledHere(s, p);
      if (await this.#intended(`${STUDY_KEYS.withdraw}${s}:${p}`))
        throw conflict("the participant withdrew from this study: no further payouts");
      const inFlight = BigInt((await this.#inFlight(`${STUDY_KEYS.pay}${s}:`, block)).length);
      if (study.escrowed - inFlight * study.reward < study.reward)
        throw conflict("the payout would exceed the study's escrow", {
          details: `escrow ${study.escrowed} units, ${inFlight} payouts of ${study.reward} in flight`,
        });
      return { outboxId: (await this.#o.outbox.intend(intent)).id };
    });
  }

  close(studyId: Hex): Promise<{ outboxId: number }> {
    return this.#serially(async () => {
      const s = bytes32(studyId, "studyId");
      const intent: Intent = {
        key: `${STUDY_KEYS.close}${s}`,
        contract: "StudyEscrow",
        functionName: "close",
        args: [s],
      };
      const committed = await this.#committed(intent, "");
      if (committed !== undefined) return { outboxId: committed };
      const study = await this.#studyOrIntended(s, await this.#block());
      if (!isAddressEqual(study.sponsor, this.#o.node)) throw forbidden("only the study's sponsor closes it");
      return { outboxId: (await this.#o.outbox.intend(intent)).id };
    });
  }

  study(studyId: Hex): Promise<StudyOnLedger | null> {
    return this.#studyAt(bytes32(studyId, "studyId"), undefined);
  }

  async #studyAt(s: Hex, blockNumber: bigint | undefined): Promise<StudyOnLedger | null> {
    let raw;
    try {
      raw = await this.#o.publicClient.readContract({
        address: this.#escrow,
        abi: studyEscrowAbi,
        functionName: "getStudy",
        args: [s],
        ...(blockNumber === undefined ? {} : { blockNumber }),
      });
    } catch (error) {
      if (revertName(error) === "StudyEscrowUnknownStudy") return null;
      throw error;
    }
    return {
      studyId: s,
      protocolHash: raw.protocolHash,
      reward: raw.reward,
      maxParticipants: raw.maxParticipants,
      enrollmentStart: Number(raw.enrollmentStart),
      enrollmentEnd: Number(raw.enrollmentEnd),
      minK: raw.minK,
      epsilonBudgetMicros: raw.epsilonBudgetMicros,
      sponsor: getAddress(raw.sponsor),
      organization: raw.organization,
      escrowed: raw.escrowed,
      enrolled: raw.enrolled,
      epsilonSpentMicros: raw.epsilonSpentMicros,
      closed: raw.closed,
    };
  }

  async participant(studyId: Hex, participant: Hex): Promise<ParticipantOnLedger | null> {
    const raw = await this.#o.publicClient.readContract({
      address: this.#escrow,
      abi: studyEscrowAbi,
      functionName: "getParticipant",
      args: [bytes32(studyId, "studyId"), bytes32(participant, "participant")],
    });
    if (raw.payout === zeroAddress) return null;
    return { organization: raw.organization, payout: getAddress(raw.payout), withdrawn: raw.withdrawn };
  }

  isPaid(studyId: Hex, contribution: Hex): Promise<boolean> {
    return this.#o.publicClient.readContract({
      address: this.#escrow,
      abi: studyEscrowAbi,
      functionName: "isPaid",
      args: [bytes32(studyId, "studyId"), bytes32(contribution, "contribution")],
    });
  }

  balanceOf(account: Address): Promise<bigint> {
    return this.#o.publicClient.readContract({
      address: this.#o.careCredit,
      abi: careCreditAbi,
      functionName: "balanceOf",
      args: [address(account, "account")],
    });
  }

  history(accounts: readonly Address[]): Promise<CreditEvent[]> {
    return creditHistory(
      this.#o.db,
      accounts.map((a) => address(a, "accounts")),
    );
  }

  /**
   * Waits until every intent is mined, then until the indexer has read their blocks (so
   * `history` shows them). Rejects with a `conflict` BaseError naming the revert when one failed,
   * and with `timeout` when they are not settled in time.
   */
  async settled(outboxIds: readonly number[], timeoutMs = DEFAULT_SETTLE_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let block = 0;
    for (const id of outboxIds) {
      const row = await this.#o.outbox.waitFor(id, Math.max(1, deadline - Date.now()));
      block = Math.max(block, row.block_number ?? 0);
    }
    if (block > 0 && this.#o.waitForBlock)
      await this.#o.waitForBlock(BigInt(block), Math.max(1, deadline - Date.now()));
  }

  /** The id of the intent committed under `intent.key`, or undefined; a different write under it is `conflict`. */
  async #committed(intent: Intent, differs: string): Promise<number | undefined> {
    const row = await this.#o.outbox.byKey(intent.key);
    if (!row) return undefined;
    if (
      row.contract !== intent.contract ||
      row.function_name !== intent.functionName ||
      row.args !== encodeArgs(intent.args)
    )
      throw conflict(differs || "this ledger write was committed with other content", {
        details: `outbox id ${row.id}`,
      });
    return row.id;
  }

  /** Whether an intent is committed under `key` and not failed. */
  async #intended(key: string): Promise<boolean> {
    const row = await this.#o.outbox.byKey(key);
    return row !== undefined && row.status !== "failed";
  }

  /**
   * The checks read the ledger at one block and add this node's intents that block does not hold
   * (see `Outbox.inFlightRows`), so an intent mined between two reads is never missed.
   */
  async #block(): Promise<bigint> {
    return this.#o.publicClient.getBlockNumber({ cacheTime: 0 });
  }

  /**
   * This node's intents under `prefix` whose effect the ledger at `block` does not hold: pending,
   * confirmed after `block`, or signed and not in a block up to `block` (a row the relayer has not
   * settled yet may already be mined: its receipt says so).
   */
  async #inFlight(prefix: string, block: bigint): Promise<OutboxRow[]> {
    const rows = await this.#o.outbox.inFlightRows(prefix, Number(block));
    const mined = await Promise.all(
      rows.map(async (row) => {
        if (row.status !== "signed" || row.tx_hash === null) return false;
        const receipt = await this.#o.publicClient
          .getTransactionReceipt({ hash: row.tx_hash as Hex })
          .catch(() => undefined);
        return receipt !== undefined && receipt.blockNumber <= block;
      }),
    );
    return rows.filter((_, i) => !mined[i]);
  }

  /** The study at `block`, else as this node's registration in flight states it; `not-found` otherwise. */
  async #studyOrIntended(studyId: Hex, block: bigint): Promise<StudyOnLedger> {
    const onLedger = await this.#studyAt(studyId, block);
    if (onLedger) return onLedger;
    const row = await this.#o.outbox.byKey(`${STUDY_KEYS.register}${studyId}`);
    if (!row || row.status === "failed") throw notFound("no such study on the ledger");
    const [, protocolHash, reward, maxParticipants, start, end, minK, epsilon] = decodeArgs(row.args) as [
      Hex,
      Hex,
      bigint,
      number,
      bigint,
      bigint,
      number,
      bigint,
    ];
    return {
      studyId,
      protocolHash,
      reward,
      maxParticipants,
      enrollmentStart: Number(start),
      enrollmentEnd: Number(end),
      minK,
      epsilonBudgetMicros: epsilon,
      sponsor: this.#o.node,
      organization: this.#o.organizationId,
      escrowed: reward * BigInt(maxParticipants),
      enrolled: 0,
      epsilonSpentMicros: 0n,
      closed: false,
    };
  }

  /** Refuses unless the participant is enrolled (or being enrolled) by this node's organization and did not withdraw. */
  async #enrolledHere(studyId: Hex, participant: Hex): Promise<void> {
    const onLedger = await this.participant(studyId, participant);
    if (onLedger) {
      if (onLedger.organization.toLowerCase() !== this.#o.organizationId.toLowerCase())
        throw forbidden("the participant was enrolled by another organization");
      if (onLedger.withdrawn) throw conflict("the participant withdrew from this study: no further payouts");
      return;
    }
    if (!(await this.#intended(`${STUDY_KEYS.enroll}${studyId}:${participant}`)))
      throw notFound("the participant is not enrolled in this study");
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#serial.catch(() => undefined).then(task);
    this.#serial = run;
    return run;
  }
}

function revertName(error: unknown): string | undefined {
  if (!(error instanceof ViemError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined;
}
