import {
  BaseError as ViemError,
  ContractFunctionRevertedError,
  encodeFunctionData,
  keccak256,
  type Abi,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { crashPoint } from "../config/crashPoint.js";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import type { ChainReadClients } from "./clients.js";
import { abiOf, contractName, type AddressBook } from "./contractRegistry.js";
import { decodeArgs, type Outbox, type OutboxRow } from "./outbox.js";

/** The subset of a pino logger the chain plumbing uses. */
export interface ChainLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RelayerOptions {
  store: Store;
  outbox: Outbox;
  clients: ChainReadClients;
  /** The one sender of this relayer's transactions; it signs locally. */
  account: LocalAccount;
  contracts: AddressBook;
  logger?: ChainLogger | undefined;
  /** Milliseconds between polls when idle (default 500). */
  pollMs?: number | undefined;
  /** Signed transactions allowed in flight at once (default 16). */
  maxInFlight?: number | undefined;
}

export interface RelayerStats {
  pending: number;
  signed: number;
  confirmed: number;
  failed: number;
  lastError: string | undefined;
}

interface IntentCall {
  to: Address;
  data: Hex;
  abi: Abi;
  functionName: string;
  args: unknown[];
}

const MAX_BACKOFF_MS = 5_000;
/** A signed transaction not yet mined is sent again after this long (it may have been dropped). */
const REBROADCAST_MS = 1_000;
const activeSenders = new Set<string>();

/**
 * Submits outbox intents to the ledger exactly once. Each intent is simulated (a revert fails it
 * for good, once it is repeated on a block holding every transaction sent before it), signed
 * locally with the next nonce, stored as "signed" with its raw transaction and
 * hash, and only then broadcast. A signed row is settled by its receipt; until then the same raw
 * transaction is rebroadcast, so with its fixed nonce it lands at most once, across crashes,
 * restarts and ledger outages. One relayer per sender account.
 */
export class Relayer {
  readonly #o: RelayerOptions;
  readonly #pollMs: number;
  readonly #sender: Address;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #lastError: string | undefined;
  #backoffMs = 0;
  /** An intent arrived since the current step began: skip the next sleep. */
  #woken = false;
  /** When this process last sent each signed row's transaction; empty after a restart, so all are resent. */
  readonly #sentAt = new Map<number, number>();

  constructor(options: RelayerOptions) {
    this.#o = options;
    this.#pollMs = options.pollMs ?? 500;
    this.#sender = options.account.address;
  }

  /** Starts the relay loop; it first settles rows left "signed" by an earlier run. */
  start(): void {
    if (this.#running) return;
    const key = this.#sender.toLowerCase();
    if (activeSenders.has(key))
      throw new BaseError("conflict", "a relayer for this sender is already running", {
        details: this.#sender,
      });
    activeSenders.add(key);
    this.#running = true;
    this.#unsubscribe = this.#o.outbox.onIntent(() => {
      // While backing off from an outage, new intents wait for the next retry.
      this.#woken = this.#backoffMs === 0;
      if (this.#woken) this.#wake?.();
    });
    this.#loop = this.#run();
  }

  /** Stops the loop after the step in progress; rows keep their state for the next start. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#unsubscribe?.();
    this.#wake?.();
    await this.#loop;
    activeSenders.delete(this.#sender.toLowerCase());
  }

  /** Counts of outbox rows by state and the last error seen (no secrets). */
  async stats(): Promise<RelayerStats> {
    const c = await this.#o.outbox.counts();
    return { ...c, lastError: this.#lastError };
  }

  /** Runs one relay step: reopen rows the ledger lost, settle signed rows, sign and send pending ones, settle again. */
  async step(): Promise<void> {
    await this.#reopenLostTail();
    await this.#settleSigned();
    await this.#sendPending();
    await this.#settleSigned();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let waitMs = this.#pollMs;
      this.#woken = false;
      try {
        await this.step();
        this.#backoffMs = 0;
        if ((await this.#o.outbox.counts()).signed > 0) waitMs = Math.min(waitMs, 100);
      } catch (error) {
        this.#backoffMs = Math.min(MAX_BACKOFF_MS, this.#backoffMs === 0 ? 200 : this.#backoffMs * 2);
        waitMs = this.#backoffMs;
        this.#lastError = shortError(error);
        this.#o.logger?.warn(
          { err: this.#lastError, retryInMs: waitMs },
          "relayer: ledger or database unavailable, retrying",
        );
      }
      if (this.#running) await this.#sleep(waitMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** After the ledger lost blocks (an embedded chain restored from an older dump), resend what they held. */
  async #reopenLostTail(): Promise<void> {
    const latest = Number(await this.#o.clients.publicClient.getBlockNumber({ cacheTime: 0 }));
    const reopened = await this.#o.outbox.reopenAbove(latest);
    if (reopened > 0)
      this.#o.logger?.warn(
        { reopened, latest },
        "relayer: ledger lost blocks holding settled intents; resending them",
      );
  }

  async #settleSigned(): Promise<void> {
    const rows = await this.#o.outbox.signedRows();
    if (rows.length === 0) return;
    const pc = this.#o.clients.publicClient;
    // Nonce first, receipts second: a nonce counted as used here is already visible in receipts.
    const used = await pc.getTransactionCount({ address: this.#sender, blockTag: "latest" });
    // All receipts at once (one event-loop turn under load, not one per row), settled in order.
    const receipts = await Promise.all(
      rows.map((row) =>
        pc.getTransactionReceipt({ hash: row.tx_hash as Hex }).catch((e: unknown) => {
          if (e instanceof ViemError && e.name === "TransactionReceiptNotFoundError") return undefined;
          throw e;
        }),
      ),
    );
    for (const [i, row] of rows.entries()) {
      const hash = row.tx_hash as Hex;
      const receipt = receipts[i];
      if (receipt) {
        const block = Number(receipt.blockNumber);
        if (receipt.status === "success") {
          await this.#o.outbox.markConfirmed(row.id, block);
          this.#o.logger?.debug({ id: row.id, tx: hash, block }, "relayer: intent confirmed");
        } else {
          const reason = await this.#revertReason(row, receipt.blockNumber);
          await this.#o.outbox.markFailed(row.id, reason, block);
          this.#o.logger?.warn({ id: row.id, tx: hash, reason }, "relayer: intent reverted on chain");
        }
        this.#sentAt.delete(row.id);
        continue;
      }
      if (row.sender_nonce !== null && row.sender_nonce < used) {
        await this.#o.outbox.resetToPending(row.id, "nonce used by another transaction");
        this.#o.logger?.warn(
          { id: row.id, nonce: row.sender_nonce },
          "relayer: nonce taken by another transaction; re-signing",
        );
        this.#sentAt.delete(row.id);
        continue;
      }
      const sentAt = this.#sentAt.get(row.id) ?? 0;
      if (Date.now() - sentAt >= REBROADCAST_MS) await this.#broadcast(row.id, row.raw_tx as Hex);
    }
  }

  async #sendPending(): Promise<void> {
    const inFlight = (await this.#o.outbox.counts()).signed;
    const room = (this.#o.maxInFlight ?? 16) - inFlight;
    if (room <= 0) return;
    const rows = await this.#o.outbox.pendingRows(room);
    if (rows.length === 0) return;
    const pc = this.#o.clients.publicClient;
    const fees = await this.#fees();
    for (const row of rows) {
      const call = this.#callOf(row);
      if (typeof call === "string") {
        await this.#fail(row.id, call);
        continue;
      }
      // The three reads go out together: under load each round trip waits for an event-loop turn.
      const [simulated, estimated, counted] = await Promise.allSettled([
        this.#simulate(call),
        pc.estimateGas({ account: this.#sender, to: call.to, data: call.data }),
        pc.getTransactionCount({ address: this.#sender, blockTag: "pending" }),
      ]);
      if (counted.status === "rejected") throw counted.reason;
      const nonce = Math.max(counted.value, (await this.#o.outbox.highestNonce(this.#sender)) + 1);
      if (simulated.status === "rejected") {
        if (revertOf(simulated.reason) === undefined) throw simulated.reason;
        const revert = await this.#revertStanding(call, nonce);
        // Not yet decidable: this intent, and every one after it (they keep their order), waits
        // until this sender's transactions in flight are in a block.
        if (revert === undefined) {
          this.#o.logger?.debug(
            { id: row.id, nonce },
            "relayer: simulation reverted on a block without the transactions sent before; retrying",
          );
          return;
        }
        await this.#fail(row.id, revert);
        continue;
      }
      if (estimated.status === "rejected") throw estimated.reason;
      const gas = estimated.value;
      const raw = await this.#o.account.signTransaction({
        chainId: this.#o.clients.chainId,
        type: "eip1559",
        to: call.to,
        data: call.data,
        nonce,
        gas: (gas * 12n) / 10n + 20_000n,
        ...fees,
      });
      const hash = keccak256(raw);
      if (!(await this.#o.outbox.markSigned(row.id, this.#sender, nonce, hash, raw))) continue;
      this.#o.logger?.debug({ id: row.id, nonce, tx: hash }, "relayer: intent signed");
      crashPoint("relayer:signed");
      await this.#broadcast(row.id, raw);
      crashPoint("relayer:sent");
    }
  }

  /**
   * The revert of an intent whose simulation reverted, when it stands; undefined when it may still
   * succeed. A ledger answers `eth_sendRawTransaction` before it mines the transaction (anvil within
   * milliseconds, a QBFT network at its next block), so the latest block the simulation ran on may
   * lack this sender's transactions sent just before, one of them perhaps what this intent needs
   * (the organization it adds a practitioner to, the anchor its consistency proof starts from). A
   * revert stands only when the simulation is repeated on a block that holds every transaction this
   * sender signed: the sender's mined nonce count, read first, has reached `next`.
   * @param call - The intent's call.
   * @param next - The nonce the intent would be signed with (every lower one is signed or used).
   */
  async #revertStanding(call: IntentCall, next: number): Promise<string | undefined> {
    const mined = await this.#o.clients.publicClient.getTransactionCount({
      address: this.#sender,
      blockTag: "latest",
    });
    if (mined < next) return undefined;
    try {
      await this.#simulate(call);
      return undefined;
    } catch (error) {
      const revert = revertOf(error);
      if (revert === undefined) throw error;
      return revert;
    }
  }

  /** Sends a stored raw transaction; "already known" and "nonce too low" are left to settlement. */
  async #broadcast(id: number, raw: Hex): Promise<void> {
    this.#sentAt.set(id, Date.now());
    try {
      await this.#o.clients.publicClient.sendRawTransaction({ serializedTransaction: raw });
    } catch (error) {
      const text = shortError(error).toLowerCase();
      if (/already (known|imported)|known transaction|nonce too low|nonce is too low/.test(text)) return;
      this.#lastError = shortError(error);
      await this.#o.outbox.noteAttempt(id, this.#lastError);
      if (isTransport(error)) throw error;
      this.#o.logger?.warn(
        { id, err: this.#lastError },
        "relayer: ledger rejected the transaction; will resend",
      );
    }
  }

  /**
   * Fees from the chain: the tip the node implies (eth_gasPrice - baseFee), which is zero on a
   * zero-gas network (anvil, Besu with min-gas-price=0), so a sender without balance transacts.
   */
  async #fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const pc = this.#o.clients.publicClient;
    const [block, gasPrice] = await Promise.all([pc.getBlock({ blockTag: "latest" }), pc.getGasPrice()]);
    const base = block.baseFeePerGas ?? 0n;
    const tip = gasPrice > base ? gasPrice - base : 0n;
    return { maxFeePerGas: base * 2n + tip, maxPriorityFeePerGas: tip };
  }

  /** eth_call of the intent as the sender; throws viem's ContractFunctionRevertedError chain on a revert. */
  async #simulate(call: IntentCall, blockNumber?: bigint): Promise<void> {
    await this.#o.clients.publicClient.simulateContract({
      account: this.#sender,
      address: call.to,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
      ...(blockNumber === undefined ? {} : { blockNumber }),
    });
  }

  #callOf(row: OutboxRow): IntentCall | string {
    try {
      const name = contractName(row.contract);
      const abi = abiOf(name) as Abi;
      const args = decodeArgs(row.args);
      const data = encodeFunctionData({ abi, functionName: row.function_name, args });
      return { to: this.#o.contracts[name], data, abi, functionName: row.function_name, args };
    } catch (error) {
      return `invalid intent: ${shortError(error)}`;
    }
  }

  /** Best-effort reason of a mined revert: replay the call on the state just before its block. */
  async #revertReason(row: OutboxRow, blockNumber: bigint): Promise<string> {
    const call = this.#callOf(row);
    if (typeof call === "string") return call;
    try {
      await this.#simulate(call, blockNumber - 1n);
    } catch (error) {
      const revert = revertOf(error);
      if (revert !== undefined) return revert;
    }
    return `reverted in block ${blockNumber}`;
  }

  async #fail(id: number, reason: string): Promise<void> {
    await this.#o.outbox.markFailed(id, reason);
    this.#o.logger?.warn({ id, reason }, "relayer: intent rejected by simulation; not retried");
  }
}

/** `Name(arg, ...)` of a contract revert, or undefined when the error is not a revert. */
function revertOf(error: unknown): string | undefined {
  if (!(error instanceof ViemError) || isTransport(error)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (!(reverted instanceof ContractFunctionRevertedError)) return undefined;
  return formatRevert(reverted.data?.errorName ?? reverted.signature, reverted.data?.args, reverted.reason);
}

function formatRevert(
  name: string | undefined,
  args: readonly unknown[] | undefined,
  reason: string | undefined,
): string {
  if (name === "Error" && reason) return `Error(${reason})`;
  if (!name) return reason ? `Error(${reason})` : "reverted without reason";
  return `${name}(${(args ?? []).map((a) => String(a)).join(", ")})`;
}

function isTransport(error: unknown): boolean {
  return (
    error instanceof ViemError &&
    error.walk((e) => {
      const n = (e as { name?: unknown }).name;
      return (
        n === "HttpRequestError" ||
        n === "TimeoutError" ||
        n === "SocketClosedError" ||
        n === "WebSocketRequestError"
      );
    }) !== null
  );
}

function shortError(error: unknown): string {
  if (error instanceof ViemError) return error.shortMessage + (error.details ? `: ${error.details}` : "");
  if (error instanceof Error) return error.message;
  return String(error);
}
