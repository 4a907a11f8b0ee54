import type { FastifyReply, FastifyRequest } from "fastify";
import { openEventStream } from "../events/eventStream.js";
import type { Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import { sseFrame, type SubscriptionEvent } from "./subscriptionEvent.js";
import type { SubscriptionService } from "./subscriptions.js";

export interface StreamOptions {
  request: FastifyRequest;
  reply: FastifyReply;
  subscriptions: SubscriptionService;
  principal: Principal;
  id: string;
  /** Interval of `: heartbeat` comments that keep proxies from closing an idle stream (15 s). */
  heartbeatMs?: number;
}

/** Parses a `Last-Event-ID` header: a stored event sequence number, or undefined. */
export function lastEventIdOf(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return undefined;
  if (!/^\d{1,15}$/.test(value.trim()))
    throw new BaseError("invalid", "Last-Event-ID must be an event number", { expression: "Last-Event-ID" });
  return Number(value.trim());
}

/**
 * Serves a subscription as a Server-Sent Events stream: on `Last-Event-ID` it replays the stored
 * events after that number first, then live events, without gaps or repeats (live events that
 * arrive during the replay are held back and de-duplicated by number). Sends a heartbeat comment
 * every 15 s and ends the stream after an `ended` event.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
export async function streamSubscription(options: StreamOptions): Promise<void> {
  const { request, reply, subscriptions, principal, id } = options;
  const subscription = await subscriptions.get(principal, id);
  const lastEventId = lastEventIdOf(request.headers["last-event-id"]);
  const raw = openEventStream(request, reply, "subscribed");

  let last = lastEventId ?? 0;
  let live = false;
  let closed = false;
  const held: SubscriptionEvent[] = [];
  const write = (event: SubscriptionEvent) => {
    if (closed || event.seq <= last) return;
    last = event.seq;
    raw.write(sseFrame(event));
    if (event.kind === "ended") finish();
  };
  const heartbeat = setInterval(() => {
    if (!closed) raw.write(": heartbeat\n\n");
  }, options.heartbeatMs ?? 15_000);
  const detach = subscriptions.attach(id, {
    push: (event) => (live ? write(event) : held.push(event)),
    close: () => finish(),
  });
  function finish() {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    detach();
    raw.end();
  }
  request.raw.on("close", finish);
  raw.on("close", finish);

  if (lastEventId !== undefined) {
    for (const event of await subscriptions.eventsSince(subscription, lastEventId)) write(event);
  }
  live = true;
  for (const event of held.splice(0)) write(event);
  if (closed) return;
  // ended before this stream attached: send the final event and close
  const current = await subscriptions.get(principal, id);
  if (current.status === "ended") {
    for (const event of await subscriptions.eventsSince(current, 0)) if (event.kind === "ended") write(event);
    finish();
  }
}
