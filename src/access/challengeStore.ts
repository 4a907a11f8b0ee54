/**
 * Where pending SIWE challenges wait for their answer (src/access/siwe.ts). In memory for a single
 * process and for unit tests; in the node's database when it runs, so a challenge may be answered
 * by any API process sharing the database, survives a restart, and is spent exactly once
 * whichever process sees it first (one atomic `delete ... returning`).
 */
import type { Address } from "viem";
import type { Store } from "../store/database.js";

/** A challenge waiting for its signed answer. */
export interface PendingChallenge {
  address: Address;
  /** Unix milliseconds. */
  expiresAt: number;
}

export interface ChallengeStore {
  /** Keeps a new challenge; may drop expired ones and, beyond the store's bound, the oldest. */
  put(nonce: string, pending: PendingChallenge, now: number): Promise<void>;
  /** Removes and returns the challenge of `nonce` (undefined when unknown or already taken). */
  take(nonce: string): Promise<PendingChallenge | undefined>;
  /** Challenges kept, expired ones included until they are dropped. */
  count(): Promise<number>;
}

/** Pending challenges in a Map, in insertion (and so expiry) order; at most `maxPending`. */
export class MemoryChallengeStore implements ChallengeStore {
  readonly #pending = new Map<string, PendingChallenge>();

  constructor(private readonly maxPending = 10_000) {}

  put(nonce: string, pending: PendingChallenge, now: number): Promise<void> {
    for (const [key, entry] of this.#pending) {
      if (entry.expiresAt > now) break;
      this.#pending.delete(key);
    }
    while (this.#pending.size >= this.maxPending) {
      const oldest = this.#pending.keys().next().value;
      if (oldest === undefined) break;
      this.#pending.delete(oldest);
    }
    this.#pending.set(nonce, pending);
    return Promise.resolve();
  }

  take(nonce: string): Promise<PendingChallenge | undefined> {
    const pending = this.#pending.get(nonce);
    this.#pending.delete(nonce);
    return Promise.resolve(pending);
  }

  count(): Promise<number> {
    return Promise.resolve(this.#pending.size);
  }
}

/** How many `put`s between two checks of the bound (a count over the table). */
const BOUND_EVERY = 256;

/**
 * Pending challenges in `siwe_challenges`. Expired rows are deleted on every `put` (an index
 * range); every {@link BOUND_EVERY} puts, rows beyond `maxPending` are dropped oldest first.
 */
export class DbChallengeStore implements ChallengeStore {
  #puts = 0;

  constructor(
    private readonly store: Store,
    private readonly maxPending = 100_000,
  ) {}

  async put(nonce: string, pending: PendingChallenge, now: number): Promise<void> {
    const db = this.store.db;
    await db.deleteFrom("siwe_challenges").where("expires_at", "<=", now).execute();
    if (++this.#puts % BOUND_EVERY === 0 && (await this.count()) >= this.maxPending) {
      const keep = await db
        .selectFrom("siwe_challenges")
        .select("expires_at")
        .orderBy("expires_at", "desc")
        .offset(this.maxPending - 1)
        .limit(1)
        .executeTakeFirst();
      if (keep !== undefined) {
        await db.deleteFrom("siwe_challenges").where("expires_at", "<=", Number(keep.expires_at)).execute();
      }
    }
    await db
      .insertInto("siwe_challenges")
      .values({ nonce, address: pending.address, expires_at: pending.expiresAt })
      .execute();
  }

  async take(nonce: string): Promise<PendingChallenge | undefined> {
    const row = await this.store.db
      .deleteFrom("siwe_challenges")
      .where("nonce", "=", nonce)
      .returning(["address", "expires_at"])
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : { address: row.address as Address, expiresAt: Number(row.expires_at) };
  }

  async count(): Promise<number> {
    const row = await this.store.db
      .selectFrom("siwe_challenges")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
