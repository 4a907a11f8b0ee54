import type { Address } from "viem";

/** A stored subscription event row. */
export interface StoredEvent {
  seq: number;
  subscription_id: string;
  kind: string;
  reference: string | null;
  /** Always 0: a notification carries no category (kept for the column; migration 019). */
  categories: number;
  detail: string | null;
  created_at: number;
}

/** One event of a subscription: its sequence number (the SSE id), its kind and its JSON body. */
export interface SubscriptionEvent {
  seq: number;
  kind: "notification" | "ended";
  data: Record<string, unknown>;
}

/**
 * The body of a notification, as sent over SSE and REST hooks: the reference of the new version,
 * never its categories nor its content (the subscriber reads it through the audited read path,
 * which decides and records what it learns). So neither the stored event nor a queued REST-hook
 * body says which categories the patient's new data has (docs/data-at-rest.md). `eventNumber` orders events and lets a receiver drop a retried duplicate.
 * Shaped after FHIR R4 Subscription notifications, simplified.
 */
export function eventPayload(row: StoredEvent, patient: Address): SubscriptionEvent {
  const kind = row.kind === "ended" ? "ended" : "notification";
  const base = {
    type: kind,
    subscriptionId: row.subscription_id,
    eventNumber: Number(row.seq),
    patient,
    time: new Date(Number(row.created_at)).toISOString(),
  };
  if (kind === "ended") {
    const detail = row.detail ? (JSON.parse(row.detail) as { reason?: string }) : {};
    return { seq: Number(row.seq), kind, data: { ...base, reason: detail.reason ?? "ended" } };
  }
  return {
    seq: Number(row.seq),
    kind,
    data: { ...base, resource: row.reference },
  };
}

/** One Server-Sent Events frame (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export function sseFrame(event: SubscriptionEvent): string {
  return `id: ${event.seq}\nevent: ${event.kind}\ndata: ${JSON.stringify(event.data)}\n\n`;
}
