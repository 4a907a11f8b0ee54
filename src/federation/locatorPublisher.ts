import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Address, Hex } from "viem";
import { organizationByNode } from "../chain/participantMirror.js";
import type { Outbox } from "../chain/outbox.js";
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
  now?: () => number;
}

const DAY_S = 86_400;

/**
 * Keeps this organization's entries in the on-chain RecordLocator true, and no more than that:
 * - a record stored for a patient with a linked account intends (outbox) a `publish(patient, day)`
 *   when the patient has no entry yet or the entry's day is older than today (UTC), so a burst of
 *   writes costs one transaction a day, and the time on chain says no more than the day;
 * - an erasure intends a `withdraw(patient)` once no live record of the account is left here;
 * - a patient who opts this organization out of discovery (`setDiscoverable`) is withdrawn at
 *   once and never published again until they opt back in. The opt-out is a setting of this
 *   node (table `discovery_opt_outs`), read from the database at each decision, so every API
 *   process sharing the database honours it, and it leaves no trace on chain.
 * Idempotency keys derive from what the outbox already holds, not from the clock, so an intent
 * re-derived after a crash is the same write: `record-locator:publish:<patient>:<day>:<number of
 * withdrawals intended before>` and `record-locator:withdraw:<patient>:<number of publications
 * intended before>` (a second withdrawal with no publication in between is the same intent).
 */
export class LocatorPublisher {
  readonly #o: LocatorPublisherOptions;
  /** UTC day (unix s) published or intended per patient account (lowercase). */
  readonly #published = new Map<string, number>();
  readonly #unsubscribe: Array<() => void> = [];
  #chain: Promise<void> = Promise.resolve();

  constructor(options: LocatorPublisherOptions) {
    this.#o = options;
  }

  /** Loads what this organization already published (from the mirror) and subscribes to the bus. */
  async start(): Promise<void> {
    const rows = await this.#o.db
      .selectFrom("record_locators")
      .select(["patient", "updated_at"])
      .where("organization", "=", this.#o.organizationId.toLowerCase())
      .execute();
    for (const r of rows) this.#published.set(r.patient, Number(r.updated_at));
    this.#unsubscribe.push(
      this.#o.events.on("record.stored", (event) => {
        if (event.patientAccount) this.#observe(event.patientAccount.toLowerCase());
      }),
      this.#o.events.on("patient.erased", (event) => {
        if (event.patientAccount) this.#erased(event.patientAccount.toLowerCase());
      }),
    );
  }

  /** Unsubscribes; waits for intents in flight. */
  async stop(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    await this.#chain;
  }

  /** Resolves when every intent triggered so far is committed to the outbox (tests, shutdown). */
  async idle(): Promise<void> {
    await this.#chain;
  }

  /**
   * Whether `patient` lets this organization be found through the RecordLocator.
   * @param patient - The patient's account.
   */
  async discoverable(patient: Address): Promise<boolean> {
    return !(await this.#optedOut(patient.toLowerCase()));
  }

  /**
   * The patient's discovery setting for this organization. Opting out withdraws the locator
   * (intent committed before this resolves); opting back in publishes it again when this node
   * holds live records of the patient.
   * @param patient - The patient's account (the caller must be that patient).
   * @param discoverable - False to opt this organization out of discovery.
   */
  async setDiscoverable(patient: Address, discoverable: boolean): Promise<void> {
    const key = patient.toLowerCase();
    const { db } = this.#o;
    if (discoverable) {
      await db.deleteFrom("discovery_opt_outs").where("patient", "=", key).execute();
      this.#published.delete(key);
      if (await this.#holdsLiveRecords(key)) await this.#run(() => this.#publish(key));
      return;
    }
    await db
      .insertInto("discovery_opt_outs")
      .values({ patient: key, created_at: this.#now() })
      .onConflict((oc) => oc.column("patient").doNothing())
      .execute();
    await this.#run(() => this.#withdraw(key));
  }

  #observe(patient: string): void {
    const day = this.#today();
    if ((this.#published.get(patient) ?? 0) >= day) return;
    this.#published.set(patient, day);
    void this.#run(() => this.#publish(patient)).catch(() => {
      // forget this attempt so the next record retries
      if (this.#published.get(patient) === day) this.#published.delete(patient);
    });
  }

  #erased(patient: string): void {
    void this.#run(async () => {
      if (await this.#holdsLiveRecords(patient)) return;
      await this.#withdraw(patient);
    }).catch(() => undefined);
  }

  /** Runs `step` after the intents before it, so publish and withdraw keep their order in the outbox. */
  #run(step: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(step);
    this.#chain = next.catch((err: unknown) => {
      this.#o.logger?.warn({ err }, "record locator not updated");
    });
    return next;
  }

  async #publish(patient: string): Promise<void> {
    if (await this.#optedOut(patient)) return;
    await this.#requireRegistered();
    const day = this.#today();
    this.#published.set(patient, day);
    const withdrawals = await this.#intents("withdraw", patient);
    await this.#o.outbox.intend({
      key: `record-locator:publish:${patient}:${day}:${withdrawals}`,
      contract: "RecordLocator",
      functionName: "publish",
      args: [patient, BigInt(day)],
    });
  }

  async #withdraw(patient: string): Promise<void> {
    await this.#requireRegistered();
    this.#published.delete(patient);
    const publications = await this.#intents("publish", patient);
    await this.#o.outbox.intend({
      key: `record-locator:withdraw:${patient}:${publications}`,
      contract: "RecordLocator",
      functionName: "withdraw",
      args: [patient],
    });
  }

  async #requireRegistered(): Promise<void> {
    if ((await organizationByNode(this.#o.db, this.#o.node)) === undefined) {
      throw new Error("this node's organization is not registered yet");
    }
  }

  async #optedOut(patient: string): Promise<boolean> {
    const row = await this.#o.db
      .selectFrom("discovery_opt_outs")
      .select("patient")
      .where("patient", "=", patient)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Whether a resource of any Patient linked to `patient` is stored here and not erased or deleted. */
  async #holdsLiveRecords(patient: string): Promise<boolean> {
    const row = await this.#o.db
      .selectFrom("resources as r")
      .innerJoin("patient_links as l", "l.patient_id", "r.patient_id")
      .select("r.id")
      .where("l.account", "=", patient)
      .where("r.deleted", "=", 0)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  #today(): number {
    return Math.floor(this.#now() / 1000 / DAY_S) * DAY_S;
  }

  /** How many `kind` intents for `patient` the outbox holds: what the next key is derived from. */
  async #intents(kind: "publish" | "withdraw", patient: string): Promise<number> {
    const row = await this.#o.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .where("idem_key", "like", `record-locator:${kind}:${patient}:%`)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }
}
