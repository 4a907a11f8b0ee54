import {
  decodeEventLog,
  type Abi,
  type Address,
  type ContractEventName,
  type DecodeEventLogReturnType,
  type Hex,
  type Log,
  type PublicClient,
} from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import { getMeta, setMeta } from "../store/meta.js";
import type { ChainLogger } from "./relayer.js";

/** A contract whose events the indexer follows. */
export interface IndexedContract<TAbi extends Abi = Abi> {
  name: string;
  address: Address;
  abi: TAbi;
}

/** A decoded event with where it happened on the ledger; `raw` keeps topics and data. */
export interface IndexedLog<TArgs = unknown, TName extends string = string> {
  contract: string;
  address: Address;
  eventName: TName;
  args: TArgs;
  blockNumber: bigint;
  logIndex: number;
  transactionHash: Hex;
  raw: { topics: [Hex, ...Hex[]] | []; data: Hex };
}

type Contracts = readonly IndexedContract[];
/** Event names across all indexed contracts. */
export type EventNameOf<C extends Contracts> = C[number] extends infer X
  ? X extends IndexedContract<infer A>
    ? ContractEventName<A>
    : never
  : never;
/** Decoded arguments of event `N` (from whichever indexed contract declares it). */
export type EventArgsOf<C extends Contracts, N extends string> = C[number] extends infer X
  ? X extends IndexedContract<infer A>
    ? N extends ContractEventName<A>
      ? DecodeEventLogReturnType<A, N>["args"]
      : never
    : never
  : never;

export type LogHandler<TArgs = unknown, TName extends string = string> = (
  log: IndexedLog<TArgs, TName>,
) => Promise<void> | void;

export interface IndexerOptions<C extends Contracts> {
  store: Store;
  publicClient: PublicClient;
  contracts: C;
  /** First block to read when no cursor is stored (the deployment block). */
  fromBlock: bigint;
  pollMs?: number | undefined;
  /** Blocks to stay behind the head (0 on an instant-finality chain such as anvil or QBFT). */
  confirmations?: number | undefined;
  /** Blocks per eth_getLogs request (default 2000). */
  chunkSize?: number | undefined;
  /** Meta key of the cursor, the last fully handled block (default "indexer.cursor"). */
  cursorKey?: string | undefined;
  logger?: ChainLogger | undefined;
}

/**
 * Follows the events of the node's contracts from a cursor kept in the database, decodes them,
 * hands each to the handlers registered for its name in block/log order, then advances the cursor.
 * A crash between a handler and the cursor write replays the range, so handlers must be idempotent.
 */
export class Indexer<const C extends Contracts = Contracts> {
  readonly #o: IndexerOptions<C>;
  readonly #byAddress = new Map<string, IndexedContract>();
  readonly #handlers = new Map<string, LogHandler[]>();
  readonly #any: LogHandler[] = [];
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #sync: Promise<bigint> = Promise.resolve(0n);

  constructor(options: IndexerOptions<C>) {
    this.#o = options;
    for (const c of options.contracts) this.#byAddress.set(c.address.toLowerCase(), c);
  }

  /** Registers a handler for one event name (of any indexed contract). */
  on<N extends EventNameOf<C>>(eventName: N, handler: LogHandler<EventArgsOf<C, N>, N>): this {
    const list = this.#handlers.get(eventName) ?? [];
    list.push(handler as LogHandler);
    this.#handlers.set(eventName, list);
    return this;
  }

  /** Registers a handler for every decoded event (it re-decodes `raw` with the ABI it knows). */
  onLog(handler: LogHandler): this {
    this.#any.push(handler);
    return this;
  }

  /** The last block whose events were all handled. */
  async cursor(): Promise<bigint> {
    const stored = await getMeta(this.#o.store.db, this.#cursorKey);
    return stored === undefined ? this.#o.fromBlock - 1n : BigInt(stored);
  }

  /** How many blocks the handled state is behind the ledger head. */
  async lag(): Promise<bigint> {
    const [latest, cursor] = await Promise.all([
      this.#o.publicClient.getBlockNumber({ cacheTime: 0 }),
      this.cursor(),
    ]);
    return latest > cursor ? latest - cursor : 0n;
  }

  /** Catches up to the head (minus confirmations) once; returns the new cursor. Serialized. */
  syncOnce(): Promise<bigint> {
    const next = this.#sync.catch(() => 0n).then(() => this.#syncNow());
    this.#sync = next;
    return next;
  }

  /** Polls in the background until {@link stop}; errors are logged and retried. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        try {
          await this.syncOnce();
        } catch (error) {
          this.#o.logger?.warn(
            { err: error instanceof Error ? error.message.split("\n")[0] : String(error) },
            "indexer: sync failed, retrying",
          );
        }
        if (this.#running) await this.#sleep(this.#o.pollMs ?? 500);
      }
    })();
  }

  /** Stops polling after the sync in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  /** Resolves once every event up to block `n` is handled (syncing itself when not started). */
  async waitForBlock(n: bigint, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const cursor = this.#running ? await this.cursor() : await this.syncOnce();
      if (cursor >= n) return;
      if (Date.now() > deadline)
        throw new BaseError("timeout", `indexer did not reach block ${n} in time`, {
          details: `cursor ${cursor}`,
        });
      this.#wake?.();
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  get #cursorKey(): string {
    return this.#o.cursorKey ?? "indexer.cursor";
  }

  async #syncNow(): Promise<bigint> {
    const pc = this.#o.publicClient;
    const latest = await pc.getBlockNumber({ cacheTime: 0 });
    let cursor = await this.cursor();
    if (latest < cursor) {
      this.#o.logger?.warn(
        { cursor: String(cursor), latest: String(latest) },
        "indexer: ledger is behind the cursor (rollback); rewinding",
      );
      cursor = latest;
      await setMeta(this.#o.store.db, this.#cursorKey, String(cursor));
    }
    const target = latest - BigInt(this.#o.confirmations ?? 0);
    const chunk = BigInt(this.#o.chunkSize ?? 2000);
    const address = [...this.#byAddress.values()].map((c) => c.address);
    while (cursor < target) {
      const fromBlock = cursor + 1n;
      const toBlock = fromBlock + chunk - 1n < target ? fromBlock + chunk - 1n : target;
      const logs = await pc.getLogs({ address, fromBlock, toBlock });
      logs.sort((a, b) =>
        a.blockNumber === b.blockNumber
          ? (a.logIndex ?? 0) - (b.logIndex ?? 0)
          : a.blockNumber! < b.blockNumber!
            ? -1
            : 1,
      );
      for (const log of logs) await this.#dispatch(log);
      await setMeta(this.#o.store.db, this.#cursorKey, String(toBlock));
      cursor = toBlock;
    }
    return cursor;
  }

  async #dispatch(log: Log): Promise<void> {
    const contract = this.#byAddress.get(log.address.toLowerCase());
    if (!contract || log.blockNumber === null || log.logIndex === null || log.transactionHash === null)
      return;
    let decoded: { eventName: string | undefined; args: unknown };
    try {
      decoded = decodeEventLog({ abi: contract.abi, topics: log.topics, data: log.data });
    } catch {
      this.#o.logger?.debug(
        { contract: contract.name, topic: log.topics[0] },
        "indexer: skipping an event not in the ABI",
      );
      return;
    }
    const eventName = decoded.eventName ?? "";
    const indexed: IndexedLog = {
      contract: contract.name,
      address: log.address,
      eventName,
      args: decoded.args,
      blockNumber: log.blockNumber,
      logIndex: log.logIndex,
      transactionHash: log.transactionHash,
      raw: { topics: log.topics, data: log.data },
    };
    for (const handler of this.#handlers.get(eventName) ?? []) await handler(indexed);
    for (const handler of this.#any) await handler(indexed);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
