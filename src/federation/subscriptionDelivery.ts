import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { Kysely, Transaction } from "kysely";
import type { Logger } from "pino";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import type { Schema } from "../store/schema.js";
import { HookTargets } from "./hookTargets.js";

/** Signs an outgoing node-to-node request; returns the headers to add (src/federation/nodeAuth.ts). */
export type RequestSigner = (request: {
  method: "POST";
  path: string;
  body: string;
}) => Promise<Record<string, string>> | Record<string, string>;

export interface DeliveryQueueOptions {
  store: Store;
  logger: Logger;
  /** Signs every push with the node key, so a peer node can verify who sent it. */
  sign?: RequestSigner | undefined;
  /** First retry delay; doubles per attempt (default 500 ms). */
  baseDelayMs?: number;
  /** Longest retry delay (default 60 s). */
  maxDelayMs?: number;
  /** Attempts before a push is marked failed (default 8). */
  maxAttempts?: number;
  /** Per-attempt HTTP timeout (default 5 s). */
  timeoutMs?: number;
  /** Longest sleep between queue scans (default 1 s). */
  pollMs?: number;
  /**
   * Where pushes of the `guarded` kinds may connect (default: public addresses only). Other kinds
   * go to endpoints the consortium registry names (peer nodes).
   */
  targets?: HookTargets;
  /** Kinds whose URL a user chose, checked against `targets` at every connection (default: subscription). */
  guarded?: readonly string[];
  now?: () => number;
}

/** Where a push stands. */
export type DeliveryStatus = "pending" | "delivered" | "failed";

/** Throws `invalid` unless `url` is an absolute http(s) URL (REST hooks go nowhere else). */
export function assertHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BaseError("invalid", "endpoint must be an absolute http(s) URL", { expression: "endpoint" });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new BaseError("invalid", "endpoint must be an http(s) URL", { expression: "endpoint" });
  return parsed;
}

/**
 * A durable queue of outgoing JSON POSTs (subscription REST hooks, referral notices): a push is a
 * database row written in the same transaction as the event it announces, so a crash loses
 * nothing acknowledged; a worker posts it, retrying with exponential backoff up to a bounded
 * number of attempts. Delivery is at least once; the body carries an id receivers can dedupe on.
 */
export class DeliveryQueue {
  readonly #o: Required<Omit<DeliveryQueueOptions, "sign">> & { sign: RequestSigner | undefined };
  readonly #guarded: Set<string>;
  #stopped = true;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #kicked = false;

  constructor(options: DeliveryQueueOptions) {
    this.#o = {
      baseDelayMs: 500,
      maxDelayMs: 60_000,
      maxAttempts: 8,
      timeoutMs: 5000,
      pollMs: 1000,
      targets: new HookTargets(),
      guarded: ["subscription"],
      now: () => Date.now(),
      ...options,
      sign: options.sign,
    };
    this.#guarded = new Set(this.#o.guarded);
  }

  /**
   * Refuses a user-chosen `url` for pushes of `kind` that could not be delivered there: for the
   * guarded kinds, a host that resolves to a loopback, private or reserved address and is not
   * allowed by the operator (src/federation/hookTargets.ts).
   * @throws BaseError("invalid") naming the endpoint
   */
  async admit(kind: string, url: string): Promise<void> {
    const parsed = assertHttpUrl(url);
    if (this.#guarded.has(kind)) await this.#o.targets.check(parsed);
  }

  /**
   * Queues a POST of `body` to `url`, idempotent by `key`.
   * @param db - the database or the transaction that stores the announced event
   */
  async enqueue(
    key: string,
    kind: string,
    url: string,
    body: object,
    db: Kysely<Schema> | Transaction<Schema> = this.#o.store.db,
  ): Promise<void> {
    assertHttpUrl(url);
    const now = this.#o.now();
    await db
      .insertInto("push_deliveries")
      .values({
        idem_key: key,
        kind,
        url,
        body: JSON.stringify(body),
        status: "pending",
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("idem_key").doNothing())
      .execute();
  }

  /** Wakes the worker now (after a commit that queued a push). */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** The status and attempt count of the push queued under `key`. */
  async status(key: string): Promise<{ status: DeliveryStatus; attempts: number } | undefined> {
    const row = await this.#o.store.db
      .selectFrom("push_deliveries")
      .select(["status", "attempts"])
      .where("idem_key", "=", key)
      .executeTakeFirst();
    return row && { status: row.status as DeliveryStatus, attempts: row.attempts };
  }

  /** Starts the background worker. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stops the worker after its current attempts. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  /** Attempts every due push once; returns how many were attempted. */
  async runOnce(): Promise<number> {
    const { db } = this.#o.store;
    const now = this.#o.now();
    const due = await db
      .selectFrom("push_deliveries")
      .selectAll()
      .where("status", "=", "pending")
      .where("next_attempt_at", "<=", now)
      .orderBy("id")
      .limit(50)
      .execute();
    const claimed = [];
    for (const row of due) {
      // a lease: another process working the same database skips a row it did not claim
      const res = await db
        .updateTable("push_deliveries")
        .set({ next_attempt_at: now + this.#o.timeoutMs + 1000 })
        .where("id", "=", row.id)
        .where("status", "=", "pending")
        .where("next_attempt_at", "=", row.next_attempt_at)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) claimed.push(row);
    }
    await Promise.all(claimed.map((row) => this.#attempt(row)));
    return claimed.length;
  }

  async #attempt(row: {
    id: number;
    url: string;
    body: string;
    attempts: number;
    kind: string;
  }): Promise<void> {
    const { db } = this.#o.store;
    const attempts = row.attempts + 1;
    let error: string | undefined;
    try {
      const url = new URL(row.url);
      const signed = this.#o.sign
        ? await this.#o.sign({ method: "POST", path: `${url.pathname}${url.search}`, body: row.body })
        : {};
      const lookup = this.#guarded.has(row.kind) ? this.#o.targets.lookupFor(url) : undefined;
      const status = await postJson(url, { "content-type": "application/json", ...signed }, row.body, {
        timeoutMs: this.#o.timeoutMs,
        lookup,
      });
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (cause) {
      error = cause instanceof Error ? cause.message.slice(0, 200) : "request failed";
    }
    const now = this.#o.now();
    if (error === undefined) {
      await db
        .updateTable("push_deliveries")
        // a delivered push keeps no body: it may name a patient's new data or grant terms
        .set({ status: "delivered", attempts, last_error: null, updated_at: now, body: "" })
        .where("id", "=", row.id)
        .execute();
      return;
    }
    const failed = attempts >= this.#o.maxAttempts;
    const delay = Math.min(this.#o.baseDelayMs * 2 ** (attempts - 1), this.#o.maxDelayMs);
    await db
      .updateTable("push_deliveries")
      .set({
        status: failed ? "failed" : "pending",
        attempts,
        last_error: error,
        next_attempt_at: now + delay,
        updated_at: now,
      })
      .where("id", "=", row.id)
      .execute();
    // the URL's host is not PHI; the body is never logged
    this.#o.logger.warn(
      { kind: row.kind, host: new URL(row.url).host, attempts, failed, error },
      "push failed",
    );
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#kicked = false;
      let wait = this.#o.pollMs;
      try {
        await this.runOnce();
        const next = await this.#o.store.db
          .selectFrom("push_deliveries")
          .select((eb) => eb.fn.min("next_attempt_at").as("at"))
          .where("status", "=", "pending")
          .executeTakeFirst();
        if (next?.at !== null && next?.at !== undefined)
          wait = Math.max(5, Math.min(wait, Number(next.at) - this.#o.now()));
      } catch (err) {
        this.#o.logger.warn({ err }, "delivery queue scan failed");
      }
      if (this.#stopped || this.#kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }
}

/**
 * One POST, no redirects followed; resolves with the status once the response has begun (its body
 * is discarded). `lookup` decides which addresses the connection may use.
 */
function postJson(
  url: URL,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; lookup: LookupFunction | undefined },
): Promise<number> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(options.timeoutMs),
        ...(options.lookup ? { lookup: options.lookup } : {}),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
