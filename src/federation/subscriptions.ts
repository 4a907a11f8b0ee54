/**
 * Cross-node use: a subscription lives AT THE NODE HOLDING THE DATA. A practitioner of another
 * organization signs in to that node with SIWE (any registered practitioner can), subscribes
 * there, and receives notifications over SSE or a REST hook to their own node or app (REST hooks
 * are signed with the holding node's key, `x-carechain-*` headers, so a peer verifies them with
 * `verifyNodeRequest`). Notifications carry no content: the subscriber then reads the referenced
 * version through the holding node's normal, consent-checked and audited read path (`/fhir`).
 * A relay in which node B subscribes at node A on behalf of its practitioner is not built.
 */
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { Logger } from "pino";
import { getAddress, type Address, type Hex } from "viem";
import type { Principal, PrincipalKind } from "../model/principal.js";
import type { ConsentGate } from "../consent/consentGate.js";
import type { Decision } from "../consent/decide.js";
import {
  categoriesOf,
  categoryMask,
  type Category,
  type PractitionerRole,
  type Purpose,
} from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import type { CarechainEvents } from "../events/eventBus.js";
import type { Auditor } from "../audit/auditor.js";
import type { Store } from "../store/database.js";
import type { SubscriptionTable } from "../store/schema.js";
import type { DeliveryQueue } from "./subscriptionDelivery.js";
import { eventPayload, type StoredEvent, type SubscriptionEvent } from "./subscriptionEvent.js";

export const CHANNELS = ["sse", "rest-hook"] as const;
export type Channel = (typeof CHANNELS)[number];

export interface SubscriptionRequest {
  patient: Address;
  categories: Category[];
  channel: Channel;
  endpoint?: string | undefined;
}

/** A subscription as the API shows it. */
export interface SubscriptionView {
  id: string;
  patient: Address;
  categories: Category[];
  channel: Channel;
  endpoint: string | null;
  purpose: Purpose;
  status: "active" | "ended";
  endReason: string | null;
  createdAt: string;
  endedAt: string | null;
}

/** A live listener of one subscription (an open Server-Sent Events stream). */
export interface EventSink {
  push(event: SubscriptionEvent): void;
  close(): void;
}

export interface SubscriptionServiceDeps {
  store: Store;
  gate: ConsentGate;
  auditor: Auditor;
  deliveries: DeliveryQueue;
  /** This node's organization: the author of every record stored here. */
  organizationId: Hex;
  logger: Logger;
}

type Row = Selectable<SubscriptionTable>;

/**
 * Subscriptions to a patient's new data (FHIR R4 Subscription, simplified): a notification names
 * the new version (`Type/id/_history/v`), never its content, and is sent only when the consent
 * decision of a read by the subscriber permits it; the subscriber then reads through the audited
 * read path. Each notification is audited as a `share`. A subscription the patient's consent no
 * longer allows is ended and its streams closed with a final event.
 */
export class SubscriptionService {
  readonly #d: SubscriptionServiceDeps;
  readonly #sinks = new Map<string, Set<EventSink>>();
  #chain: Promise<void> = Promise.resolve();

  constructor(deps: SubscriptionServiceDeps) {
    this.#d = deps;
  }

  /** Subscribes the principal to the patient's new data in `categories`; 403 without consent. */
  async create(principal: Principal, request: SubscriptionRequest): Promise<SubscriptionView> {
    if (principal.kind === "system") throw new BaseError("forbidden", "system jobs do not subscribe");
    if (request.channel === "rest-hook") {
      if (!request.endpoint)
        throw new BaseError("invalid", "a rest-hook subscription needs an endpoint", {
          expression: "endpoint",
        });
      await this.#d.deliveries.admit("subscription", request.endpoint);
    }
    const mask = categoryMask(request.categories);
    if (mask === 0)
      throw new BaseError("invalid", "name at least one category", { expression: "categories" });
    const patient = getAddress(request.patient);
    const decision = this.#permitted(principal, patient, mask);
    const id = randomUUID();
    await this.#d.auditor.record(principal, {
      action: decision.permit ? "share" : "deny",
      decision: decision.permit ? "permit" : "deny",
      patient,
      categories: request.categories,
      reason: decision.permit
        ? `subscription ${id} opened (${request.channel})`
        : `subscribe: ${decision.reason}`,
    });
    if (!decision.permit)
      throw new BaseError("forbidden", `not permitted to subscribe: ${decision.reason}`, {
        code: "forbidden",
      });
    const row: Row = {
      id,
      subscriber: principal.account.toLowerCase(),
      subscriber_kind: principal.kind,
      organization: principal.organization?.toLowerCase() ?? null,
      role: principal.role ?? null,
      purpose: principal.purpose,
      patient: patient.toLowerCase(),
      categories: mask,
      channel: request.channel,
      endpoint: request.channel === "rest-hook" ? (request.endpoint ?? null) : null,
      status: "active",
      end_reason: null,
      created_at: Date.now(),
      ended_at: null,
    };
    await this.#d.store.db.insertInto("subscriptions").values(row).execute();
    return view(row);
  }

  /** The principal's subscriptions, newest first. */
  async list(principal: Principal): Promise<SubscriptionView[]> {
    const rows = await this.#d.store.db
      .selectFrom("subscriptions")
      .selectAll()
      .where("subscriber", "=", principal.account.toLowerCase())
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(view);
  }

  /** One of the principal's subscriptions (404 when it is not theirs). */
  async get(principal: Principal, id: string): Promise<SubscriptionView> {
    return view(await this.#own(principal, id));
  }

  /** Ends one of the principal's subscriptions. */
  async cancel(principal: Principal, id: string): Promise<SubscriptionView> {
    const row = await this.#own(principal, id);
    await this.#serial(() => this.#end(row, "cancelled by the subscriber"));
    return view(await this.#own(principal, id));
  }

  /** Stored events of a subscription after `seq` (for `Last-Event-ID` resume), oldest first. */
  async eventsSince(subscription: SubscriptionView, seq: number, limit = 1000): Promise<SubscriptionEvent[]> {
    const rows = await this.#d.store.db
      .selectFrom("subscription_events")
      .selectAll()
      .where("subscription_id", "=", subscription.id)
      .where("seq", ">", seq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map((r) => eventPayload(r as StoredEvent, subscription.patient));
  }

  /** Attaches a live listener; returns the detach function. */
  attach(id: string, sink: EventSink): () => void {
    const set = this.#sinks.get(id) ?? new Set<EventSink>();
    set.add(sink);
    this.#sinks.set(id, set);
    return () => {
      set.delete(sink);
      if (set.size === 0 && this.#sinks.get(id) === set) this.#sinks.delete(id);
    };
  }

  /** Closes every live stream (node shutdown); subscriptions stay active. */
  closeStreams(): void {
    for (const set of [...this.#sinks.values()]) for (const sink of [...set]) sink.close();
  }

  /** Resolves once every event handed to the service so far is processed. */
  idle(): Promise<void> {
    return this.#chain;
  }

  /** EventBus "record.stored" listener: notifies permitted subscribers, in store order. */
  readonly onRecordStored = (event: CarechainEvents["record.stored"]): void => {
    const account = event.patientAccount;
    if (!account || event.categories.length === 0) return;
    void this.#serial(() => this.#notify(getAddress(account), event));
  };

  /** EventBus "consent.revoked" listener: ends the patient's subscriptions no longer permitted. */
  readonly onConsentRevoked = (event: CarechainEvents["consent.revoked"]): void => {
    void this.#serial(async () => {
      const patient = getAddress(event.patient);
      for (const row of await this.#active(patient)) {
        const decision = this.#permitted(principalOf(row), patient, row.categories);
        if (!decision.permit) await this.#end(row, endReason(decision));
      }
    });
  };

  async #notify(patient: Address, event: CarechainEvents["record.stored"]): Promise<void> {
    const mask = categoryMask(event.categories);
    const reference = `${event.type}/${event.id}/_history/${event.versionId}`;
    for (const row of await this.#active(patient)) {
      if ((row.categories & mask) === 0) continue;
      const principal = principalOf(row);
      const decision = this.#d.gate
        .forPatient(principal, patient, "read")
        .decide(event.categories, this.#d.organizationId);
      if (!decision.permit) {
        const still = this.#permitted(principal, patient, row.categories);
        if (!still.permit) await this.#end(row, endReason(still));
        continue;
      }
      await this.#d.auditor.record(principal, {
        action: "share",
        decision: "permit",
        patient,
        resources: [reference],
        categories: event.categories,
        reason: `subscription ${row.id} notified`,
      });
      await this.#publish(row, { kind: "notification", reference, categories: 0, detail: null });
    }
  }

  async #end(row: Row, reason: string): Promise<void> {
    const now = Date.now();
    const res = await this.#d.store.db
      .updateTable("subscriptions")
      .set({ status: "ended", end_reason: reason, ended_at: now })
      .where("id", "=", row.id)
      .where("status", "=", "active")
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return;
    await this.#publish(row, {
      kind: "ended",
      reference: null,
      categories: 0,
      detail: JSON.stringify({ reason }),
    });
    for (const sink of [...(this.#sinks.get(row.id) ?? [])]) sink.close();
  }

  /** Stores the event (and its REST-hook push, in one transaction), then hands it to live streams. */
  async #publish(
    row: Row,
    e: {
      kind: "notification" | "ended";
      reference: string | null;
      categories: number;
      detail: string | null;
    },
  ): Promise<void> {
    const patient = getAddress(row.patient);
    const event = await this.#d.store.db.transaction().execute(async (tx) => {
      const stored = await tx
        .insertInto("subscription_events")
        .values({ subscription_id: row.id, ...e, created_at: Date.now() })
        .returningAll()
        .executeTakeFirstOrThrow();
      const payload = eventPayload(stored as StoredEvent, patient);
      if (row.channel === "rest-hook" && row.endpoint)
        await this.#d.deliveries.enqueue(
          `sub:${row.id}:${stored.seq}`,
          "subscription",
          row.endpoint,
          payload.data,
          tx,
        );
      return payload;
    });
    if (row.channel === "rest-hook") this.#d.deliveries.kick();
    for (const sink of [...(this.#sinks.get(row.id) ?? [])]) sink.push(event);
  }

  /** Subscribe-level check: every subscribed category readable, as for a record stored here. */
  #permitted(principal: Principal, patient: Address, mask: number): Decision {
    const decider = this.#d.gate.forPatient(principal, patient, "read");
    for (const category of categoriesOf(mask)) {
      const d = decider.decide([category], this.#d.organizationId);
      if (!d.permit) return d;
    }
    return { permit: true, reason: "grant" };
  }

  #active(patient: Address): Promise<Row[]> {
    return this.#d.store.db
      .selectFrom("subscriptions")
      .selectAll()
      .where("patient", "=", patient.toLowerCase())
      .where("status", "=", "active")
      .execute();
  }

  async #own(principal: Principal, id: string): Promise<Row> {
    const row = await this.#d.store.db
      .selectFrom("subscriptions")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row || row.subscriber !== principal.account.toLowerCase())
      throw new BaseError("not-found", "no such subscription of yours");
    return row;
  }

  #serial(work: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain
      .then(work)
      .catch((err: unknown) => this.#d.logger.warn({ err }, "subscription processing failed"));
    return this.#chain;
  }
}

function endReason(decision: Decision): string {
  return decision.reason === "revoked" ? "consent revoked" : `consent no longer permits (${decision.reason})`;
}

/** The principal a subscription's decisions are made for: the subscriber as they subscribed. */
function principalOf(row: Row): Principal {
  return {
    account: getAddress(row.subscriber),
    kind: row.subscriber_kind as PrincipalKind,
    ...(row.organization ? { organization: row.organization as Hex } : {}),
    ...(row.role ? { role: row.role as PractitionerRole } : {}),
    purpose: row.purpose as Purpose,
    authenticatedBy: "siwe-session",
    requestId: `sub-${row.id}`,
  };
}

function view(row: Row): SubscriptionView {
  return {
    id: row.id,
    patient: getAddress(row.patient),
    categories: categoriesOf(row.categories),
    channel: row.channel as Channel,
    endpoint: row.endpoint,
    purpose: row.purpose as Purpose,
    status: row.status === "ended" ? "ended" : "active",
    endReason: row.end_reason,
    createdAt: new Date(row.created_at).toISOString(),
    endedAt: row.ended_at === null ? null : new Date(row.ended_at).toISOString(),
  };
}
