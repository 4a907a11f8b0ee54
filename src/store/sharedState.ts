/**
 * State that every API process of an organization keeps in memory, while any of them (and the
 * ledger indexer of any of them) may change it in the shared database: consent grants, open
 * break-glass sessions with the patient's permission, and patient links. Each kind has one
 * version in `state_versions`, bumped in the transaction of every change; a process rechecks the
 * versions every `recheckMs` (one small query for all kinds, never on a request's path) and, for a
 * kind whose version moved, lets its listeners read what changed. So a change committed by one
 * process is seen by every other within `recheckMs` plus one query; the changing process updates
 * its own memory at once. Versions are taken under the row lock of their `state_versions` row, so
 * commits of one kind are ordered by version and "changed since version v" misses nothing.
 */
import type { Kysely, Transaction } from "kysely";
import type { Schema } from "./schema.js";

/** The kinds of shared state that carry a version. */
export type SharedStateName = "grants" | "break-glass" | "patient-links" | "monitoring-alerts";

/** How often a process looks for other processes' changes, by default (the staleness bound). */
export const RECHECK_MS = 200;

/**
 * Takes the next version of `name`; call it inside the transaction of the change, so the change
 * and its version commit together.
 * @returns the new version, to store with the changed rows
 */
export async function bumpVersion(tx: Transaction<Schema>, name: SharedStateName): Promise<number> {
  const row = await tx
    .updateTable("state_versions")
    .set((eb) => ({ version: eb("version", "+", 1) }))
    .where("name", "=", name)
    .returning("version")
    .executeTakeFirstOrThrow();
  return Number(row.version);
}

/** Runs `fn` in a transaction: the caller's when `db` is one, else a new one. */
export function inTransaction<T>(
  db: Kysely<Schema>,
  fn: (tx: Transaction<Schema>) => Promise<T>,
): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<Schema>) : db.transaction().execute(fn);
}

/**
 * Called when `name` moved from version `since` (what this process had seen; 0 after the
 * database went back in time) to `version`. A listener that throws is called again, from the
 * same `since`, at the next recheck.
 */
export type StateListener = (since: number, version: number) => Promise<void>;

export interface SharedStateOptions {
  recheckMs?: number;
  /** Where a failed recheck is reported (it is retried at the next interval). */
  onError?: (error: unknown) => void;
}

/** One process's view of the shared versions, and the rechecks that keep it current. */
export class SharedState {
  readonly #db: Kysely<Schema>;
  readonly #recheckMs: number;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #seen = new Map<string, number>();
  readonly #listeners = new Map<string, StateListener[]>();
  #chain: Promise<boolean> = Promise.resolve(false);
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(db: Kysely<Schema>, options: SharedStateOptions = {}) {
    this.#db = db;
    this.#recheckMs = options.recheckMs ?? RECHECK_MS;
    this.#onError = options.onError;
  }

  /** The staleness bound of this process: how long another process's change may stay unseen. */
  get recheckMs(): number {
    return this.#recheckMs;
  }

  /**
   * Reads the current versions without calling listeners. Call it before loading the state they
   * cover: a change committed during the load is then seen again by the first recheck.
   */
  async init(): Promise<void> {
    for (const row of await this.#versions()) this.#seen.set(row.name, Number(row.version));
  }

  /** Registers a listener for changes of `name`. */
  on(name: SharedStateName, listener: StateListener): this {
    const list = this.#listeners.get(name) ?? [];
    list.push(listener);
    this.#listeners.set(name, list);
    return this;
  }

  /**
   * Rechecks now (after any recheck in progress), e.g. before answering from state another
   * process has just changed.
   * @returns whether any version had moved
   */
  refresh(): Promise<boolean> {
    const next = this.#chain.catch(() => false).then(() => this.#recheck());
    this.#chain = next;
    return next;
  }

  /** Rechecks every `recheckMs` until {@link stop}; errors go to `onError` and are retried. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const tick = () => {
      this.refresh()
        .catch((error: unknown) => this.#onError?.(error))
        .finally(() => {
          if (this.#running) this.#timer = setTimeout(tick, this.#recheckMs).unref();
        });
    };
    this.#timer = setTimeout(tick, this.#recheckMs).unref();
  }

  /** Stops rechecking after the recheck in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#chain.catch(() => undefined);
  }

  async #recheck(): Promise<boolean> {
    let moved = false;
    for (const row of await this.#versions()) {
      const version = Number(row.version);
      const seen = this.#seen.get(row.name) ?? 0;
      if (version === seen) continue;
      moved = true;
      const since = version < seen ? 0 : seen;
      for (const listener of this.#listeners.get(row.name) ?? []) await listener(since, version);
      this.#seen.set(row.name, version);
    }
    return moved;
  }

  #versions(): Promise<Array<{ name: string; version: number }>> {
    return this.#db.selectFrom("state_versions").select(["name", "version"]).execute();
  }
}
