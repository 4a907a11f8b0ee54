import { EventEmitter } from "node:events";
import { sql, type Selectable } from "kysely";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import type { OutboxStatus, OutboxTable } from "../store/schema.js";
import { getMeta, setMeta } from "../store/meta.js";
import type { ContractName } from "./contractRegistry.js";

/** One intended ledger write: call `functionName(...args)` on `contract`, exactly once. */
export interface Intent {
  /** Idempotency key: the same key is the same intent, however often it is submitted. */
  key: string;
  contract: ContractName;
  functionName: string;
  args: readonly unknown[];
}

export type OutboxRow = Selectable<OutboxTable>;

const BIGINT_TAG = "$bigint";

const nonceKey = (sender: string) => `outbox.nonce.${sender.toLowerCase()}`;

/** JSON-encodes contract arguments, tagging bigints as `{"$bigint":"<decimal>"}`. */
export function encodeArgs(args: readonly unknown[]): string {
  return JSON.stringify(args, (_key, value: unknown) =>
    typeof value === "bigint" ? { [BIGINT_TAG]: value.toString() } : value,
  );
}

/** Decodes arguments written by {@link encodeArgs}, restoring bigints. */
export function decodeArgs(json: string): unknown[] {
  const value: unknown = JSON.parse(json, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const tagged = (v as Record<string, unknown>)[BIGINT_TAG];
      if (keys.length === 1 && typeof tagged === "string") return BigInt(tagged);
    }
    return v;
  });
  if (!Array.isArray(value)) throw new BaseError("internal", "outbox arguments are not an array");
  return value as unknown[];
}

export interface IntendOptions {
  /**
   * For a process that resumes after a crash and may derive an intent again: an intent already
   * committed under the same key is kept as committed, whatever this call's content, and
   * reported with `kept: true` when it differs (the caller logs it). Without this, a different
   * content under a used key is a conflict.
   */
  keepCommitted?: boolean | undefined;
}

/**
 * The durable queue of ledger writes (DESIGN.md "Durability by outbox"). An intent is committed
 * here before anything touches the ledger; the {@link Relayer} signs, submits and confirms it.
 * The state-changing methods below `intend` are the relayer's; they emit `changed` so waiters in
 * this process wake at once (waiters in other processes poll).
 */
export class Outbox {
  readonly #store: Store;
  readonly #events = new EventEmitter();

  constructor(store: Store) {
    this.#store = store;
    this.#events.setMaxListeners(0);
  }

  /**
   * Commits an intent; the same key again returns the existing row with `created: false`.
   * @param intent - The ledger write; its key makes it idempotent.
   * @param options - See {@link IntendOptions}.
   * @returns The row's id; `created` when this call committed it; `kept` when a different
   *   intent committed earlier under the key was kept (only with `keepCommitted`).
   */
  async intend(
    intent: Intent,
    options: IntendOptions = {},
  ): Promise<{ id: number; created: boolean; kept?: boolean }> {
    const args = encodeArgs(intent.args);
    const now = Date.now();
    const inserted = await this.#store.db
      .insertInto("outbox")
      .values({
        idem_key: intent.key,
        contract: intent.contract,
        function_name: intent.functionName,
        args,
        status: "pending",
        sender_nonce: null,
        tx_hash: null,
        raw_tx: null,
        block_number: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("idem_key").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (inserted) {
      const id = Number(inserted.id);
      this.#events.emit("intent", id);
      return { id, created: true };
    }
    const existing = await this.byKey(intent.key);
    if (!existing) throw new BaseError("internal", "outbox row vanished after a key conflict");
    if (
      existing.contract !== intent.contract ||
      existing.function_name !== intent.functionName ||
      existing.args !== args
    ) {
      if (options.keepCommitted) return { id: existing.id, created: false, kept: true };
      throw new BaseError("conflict", "idempotency key already used for a different ledger write", {
        details: `outbox id ${existing.id}`,
      });
    }
    return { id: existing.id, created: false };
  }

  /** Number of intents not yet confirmed or failed. */
  async depth(): Promise<number> {
    const row = await this.#store.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "in", ["pending", "signed"])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Counts of rows by status. */
  async counts(): Promise<Record<OutboxStatus, number>> {
    const rows = await this.#store.db
      .selectFrom("outbox")
      .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy("status")
      .execute();
    const out: Record<OutboxStatus, number> = { pending: 0, signed: 0, confirmed: 0, failed: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  /** One row by id. */
  async get(id: number): Promise<OutboxRow | undefined> {
    return this.#store.db.selectFrom("outbox").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** One row by idempotency key. */
  async byKey(key: string): Promise<OutboxRow | undefined> {
    return this.#store.db.selectFrom("outbox").selectAll().where("idem_key", "=", key).executeTakeFirst();
  }

  /**
   * Resolves with the row once it is confirmed on the ledger; rejects with a `BaseError` when it
   * failed (kind "conflict", the decoded revert in `details`) or on timeout (kind "timeout").
   */
  async waitFor(idOrKey: number | string, timeoutMs: number, pollMs = 200): Promise<OutboxRow> {
    const deadline = Date.now() + timeoutMs;
    const load = () => (typeof idOrKey === "number" ? this.get(idOrKey) : this.byKey(idOrKey));
    for (;;) {
      const row = await load();
      if (!row) throw new BaseError("not-found", "no such outbox intent", { details: String(idOrKey) });
      if (row.status === "confirmed") return row;
      if (row.status === "failed") {
        throw new BaseError("conflict", "ledger write failed", { details: row.last_error ?? undefined });
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new BaseError("timeout", "ledger write not confirmed in time", {
          details: `outbox id ${row.id}`,
        });
      await this.#changedOrTimeout(row.id, Math.min(left, pollMs));
    }
  }

  /** Calls `listener` with the id of every intent this process creates, right after its commit. */
  onIntent(listener: (id: number) => void): () => void {
    this.#events.on("intent", listener);
    return () => this.#events.off("intent", listener);
  }

  /**
   * The newest intent not yet confirmed or failed whose idempotency key starts with `keyPrefix`:
   * what a writer that keeps one intent of a kind in flight finds again after a restart.
   */
  async latestUnsettled(keyPrefix: string): Promise<OutboxRow | undefined> {
    return this.#store.db
      .selectFrom("outbox")
      .selectAll()
      .where("status", "in", ["pending", "signed"])
      .where(sql<string>`substr(idem_key, 1, ${keyPrefix.length})`, "=", keyPrefix)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * The intents whose idempotency key starts with `keyPrefix` that the ledger state at block
   * `afterBlock` does not hold yet: not yet confirmed or failed, or confirmed in a later block.
   * Oldest first. A row still "signed" may already be in a block up to `afterBlock`: its receipt tells.
   */
  async inFlightRows(keyPrefix: string, afterBlock: number): Promise<OutboxRow[]> {
    return this.#store.db
      .selectFrom("outbox")
      .selectAll()
      .where(sql<string>`substr(idem_key, 1, ${keyPrefix.length})`, "=", keyPrefix)
      .where((eb) =>
        eb.or([
          eb("status", "in", ["pending", "signed"]),
          eb.and([eb("status", "=", "confirmed"), eb("block_number", ">", afterBlock)]),
        ]),
      )
      .orderBy("id")
      .execute();
  }

  /** Rows awaiting a signature, oldest first. */
  async pendingRows(limit: number): Promise<OutboxRow[]> {
    return this.#store.db
      .selectFrom("outbox")
      .selectAll()
      .where("status", "=", "pending")
      .orderBy("id")
      .limit(limit)
      .execute();
  }

  /** Rows signed and possibly broadcast but not yet seen in a block, by nonce. */
  async signedRows(): Promise<OutboxRow[]> {
    return this.#store.db
      .selectFrom("outbox")
      .selectAll()
      .where("status", "=", "signed")
      .orderBy("sender_nonce")
      .orderBy("id")
      .execute();
  }

  /**
   * Records the signed transaction and the sender's highest used nonce in one transaction.
   * Returns false when the row is no longer pending (another relayer got there first): then the
   * transaction must not be broadcast.
   */
  async markSigned(
    id: number,
    sender: string,
    nonce: number,
    txHash: string,
    rawTx: string,
  ): Promise<boolean> {
    const changed = await this.#store.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable("outbox")
        .set({
          status: "signed",
          sender_nonce: nonce,
          tx_hash: txHash,
          raw_tx: rawTx,
          updated_at: Date.now(),
        })
        .where("id", "=", id)
        .where("status", "=", "pending")
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      const key = nonceKey(sender);
      const previous = await getMeta(trx, key);
      if (previous === undefined || Number(previous) < nonce) await setMeta(trx, key, String(nonce));
      return true;
    });
    if (changed) this.#events.emit(`changed:${id}`);
    return changed;
  }

  /** The highest nonce this outbox has signed with for `sender`, or -1. */
  async highestNonce(sender: string): Promise<number> {
    const value = await getMeta(this.#store.db, nonceKey(sender));
    return value === undefined ? -1 : Number(value);
  }

  /** Marks the intent landed in `blockNumber`. */
  async markConfirmed(id: number, blockNumber: number): Promise<void> {
    await this.#update(id, { status: "confirmed", block_number: blockNumber, last_error: null });
  }

  /** Marks the intent failed for good (a revert); `blockNumber` when the revert was mined. */
  async markFailed(id: number, reason: string, blockNumber: number | null = null): Promise<void> {
    await this.#update(id, { status: "failed", last_error: reason, block_number: blockNumber });
  }

  /** Returns a signed row whose transaction can never land (its nonce was used by another) to pending. */
  async resetToPending(id: number, reason: string): Promise<void> {
    await this.#update(
      id,
      { status: "pending", sender_nonce: null, tx_hash: null, raw_tx: null, last_error: reason },
      "signed",
    );
  }

  /** Notes a transient error on a row and counts the attempt. */
  async noteAttempt(id: number, error: string): Promise<void> {
    await this.#store.db
      .updateTable("outbox")
      .set((eb) => ({ attempts: eb("attempts", "+", 1), last_error: error, updated_at: Date.now() }))
      .where("id", "=", id)
      .execute();
  }

  /** Rows settled in blocks above `latest` (the ledger lost its tail): back to signed, to be rebroadcast. */
  async reopenAbove(latest: number): Promise<number> {
    const res = await this.#store.db
      .updateTable("outbox")
      .set({ status: "signed", block_number: null, updated_at: Date.now() })
      .where("status", "in", ["confirmed", "failed"])
      .where("raw_tx", "is not", null)
      .where("block_number", ">", latest)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async #update(
    id: number,
    values: Partial<Omit<OutboxRow, "id">>,
    fromStatus?: OutboxStatus,
  ): Promise<boolean> {
    let q = this.#store.db
      .updateTable("outbox")
      .set({ ...values, updated_at: Date.now() })
      .where("id", "=", id);
    if (fromStatus) q = q.where("status", "=", fromStatus);
    const res = await q.executeTakeFirst();
    const changed = Number(res.numUpdatedRows) > 0;
    if (changed) this.#events.emit(`changed:${id}`);
    return changed;
  }

  #changedOrTimeout(id: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#events.off(`changed:${id}`, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#events.once(`changed:${id}`, done);
    });
  }
}
