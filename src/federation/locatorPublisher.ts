import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Address, Hex } from "viem";
import { organizationByNode } from "../chain/participantMirror.js";
import type { Outbox } from "../chain/outbox.js";
import { categoryMask } from "../model/vocabulary.js";
import type { EventBus } from "../events/eventBus.js";
import type { Schema } from "../store/schema.js";

export interface LocatorPublisherOptions {
  db: Kysely<Schema>;
  events: EventBus;
  outbox: Outbox;
  /** This node's account and organization. */
  node: Address;
  organizationId: Hex;
  logger?: Logger;
  /** Minimum time between two publications for a patient whose categories did not grow (ms). */
  minIntervalMs?: number;
  now?: () => number;
}

interface PatientState {
  /** Categories published (or intended) so far. */
  published: number;
  /** Categories seen but not yet intended. */
  pending: number;
  lastAt: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Keeps the on-chain RecordLocator current for the patients whose records this node stores: on
 * each `record.stored` for a patient with a linked account it intends (outbox) a `publish` at once
 * when the categories held grow, and otherwise at most once per interval (trailing debounce), so a
 * burst of writes costs one transaction. Idempotency key: patient + categories + minute.
 */
export class LocatorPublisher {
  readonly #o: LocatorPublisherOptions;
  readonly #state = new Map<string, PatientState>();
  #unsubscribe: (() => void) | undefined;
  #chain: Promise<void> = Promise.resolve();

  constructor(options: LocatorPublisherOptions) {
    this.#o = options;
  }

  /** Loads what this organization already published (from the mirror) and subscribes to the bus. */
  async start(): Promise<void> {
    const rows = await this.#o.db
      .selectFrom("record_locators")
      .select(["patient", "categories", "updated_at"])
      .where("organization", "=", this.#o.organizationId.toLowerCase())
      .execute();
    for (const r of rows) {
      this.#state.set(r.patient, {
        published: Number(r.categories),
        pending: 0,
        lastAt: 0,
        timer: undefined,
      });
    }
    this.#unsubscribe = this.#o.events.on("record.stored", (event) => {
      if (!event.patientAccount || event.categories.length === 0) return;
      this.#observe(event.patientAccount.toLowerCase(), categoryMask(event.categories));
    });
  }

  /** Unsubscribes and cancels trailing publications; waits for intents in flight. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    for (const s of this.#state.values()) if (s.timer) clearTimeout(s.timer);
    await this.#chain;
  }

  /** Resolves when every intent triggered so far is committed to the outbox (tests, shutdown). */
  async idle(): Promise<void> {
    await this.#chain;
  }

  #observe(patient: string, mask: number): void {
    const now = this.#now();
    const interval = this.#o.minIntervalMs ?? 60_000;
    const s = this.#state.get(patient) ?? { published: 0, pending: 0, lastAt: 0, timer: undefined };
    this.#state.set(patient, s);
    s.pending = (s.pending | mask) >>> 0;
    const grows = (s.pending & ~s.published) !== 0;
    if (grows || now - s.lastAt >= interval) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      this.#enqueue(patient, s);
    } else if (!s.timer) {
      s.timer = setTimeout(
        () => {
          s.timer = undefined;
          this.#enqueue(patient, s);
        },
        Math.max(0, s.lastAt + interval - now),
      );
      s.timer.unref();
    }
  }

  #enqueue(patient: string, s: PatientState): void {
    const mask = (s.published | s.pending) >>> 0;
    const previous = { published: s.published, pending: s.pending, lastAt: s.lastAt };
    s.published = mask;
    s.pending = 0;
    s.lastAt = this.#now();
    this.#chain = this.#chain
      .then(() => this.#intend(patient, mask))
      .catch((err: unknown) => {
        // not registered yet, or the database refused: forget this attempt so the next record retries
        s.published = previous.published;
        s.pending = (s.pending | previous.pending | mask) >>> 0;
        s.lastAt = previous.lastAt;
        this.#o.logger?.warn({ err }, "record locator not published");
      });
  }

  async #intend(patient: string, mask: number): Promise<void> {
    if ((await organizationByNode(this.#o.db, this.#o.node)) === undefined) {
      throw new Error("this node's organization is not registered yet");
    }
    const nowMs = this.#now();
    const minute = Math.floor(nowMs / 60_000);
    await this.#o.outbox.intend({
      key: `record-locator:${patient}:${mask}:${minute}`,
      contract: "RecordLocator",
      functionName: "publish",
      args: [patient, mask, BigInt(Math.floor(nowMs / 1000))],
    });
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }
}
