import type { FastifyReply, FastifyRequest } from "fastify";
import { holdEventStream, openEventStream } from "../../events/eventStream.js";
import type { PatientNotifications } from "../../consent/notifications.js";
import type { EventBus } from "../../events/eventBus.js";

/** How far back a stream looks for notifications other processes committed late. */
const LOOKBACK_MS = 5_000;

export interface NotificationStreamDeps {
  notifications: Pick<PatientNotifications, "since" | "list">;
  events: EventBus;
  /** How often a stream looks for notifications stored by other API processes (2 s). */
  pollMs?: number;
  /** Interval of `: heartbeat` comments that keep proxies from closing an idle stream (15 s). */
  heartbeatMs?: number;
}

/**
 * Live notification streams as Server-Sent Events: each new notification of the signed-in account
 * is one `notification` event whose id is its cursor, so `Last-Event-ID` resumes after it. A
 * notification stored in this process is sent at once; one stored by another API process within
 * `pollMs` (a stream looks back a few seconds for those and skips what it sent). A notification
 * another process committed late, while the stream was disconnected, can be missed by a resume:
 * the list endpoint has every one, and ids are unique for a client that merges the two. Without `Last-Event-ID` the stream starts at the newest notification
 * (the list endpoint has the older ones).
 * https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
export class NotificationStreams {
  readonly #d: NotificationStreamDeps;
  readonly #open = new Set<() => void>();

  constructor(deps: NotificationStreamDeps) {
    this.#d = deps;
  }

  /** Ends every open stream (the server is closing). */
  closeAll(): void {
    for (const finish of [...this.#open]) finish();
  }

  async serve(request: FastifyRequest, reply: FastifyReply, account: string): Promise<void> {
    const header = request.headers["last-event-id"];
    const resume = (Array.isArray(header) ? header[0] : header)?.trim();
    let cursor: string | undefined;
    if (resume !== undefined && resume !== "") {
      // a cursor this node did not hand out is refused before the stream starts (400)
      await this.#d.notifications.since(account, resume, { limit: 1 });
      cursor = resume;
    } else cursor = (await this.#d.notifications.list(account, 1))[0]?.cursor;
    const raw = openEventStream(request, reply, "notifications");

    let pumping: Promise<void> = Promise.resolve();
    // what this stream sent lately, by id: the look-back window finds some of it again
    const sent = new Map<string, number>();
    let first = true;
    const pump = (): void => {
      pumping = pumping.then(async () => {
        if (stream.closed) return;
        try {
          const found = await this.#d.notifications.since(account, cursor, {
            lookbackMs: first ? 0 : LOOKBACK_MS,
          });
          first = false;
          for (const n of found) {
            if (stream.closed) return;
            if (sent.has(n.id)) continue;
            const at = Date.parse(n.createdAt);
            sent.set(n.id, at);
            if (cursor === undefined || n.cursor > cursor) cursor = n.cursor;
            raw.write(`id: ${n.cursor}\nevent: notification\ndata: ${JSON.stringify(n)}\n\n`);
          }
          const horizon = Number(cursor?.split(".")[0] ?? 0) - LOOKBACK_MS;
          for (const [id, at] of sent) if (at < horizon) sent.delete(id);
        } catch {
          // the database is unreachable for a moment: the next poll tries again
        }
      });
    };
    const own = account.toLowerCase();
    const detach = this.#d.events.on("notification.created", (e) => {
      if (e.account === own) pump();
    });
    const poll = setInterval(pump, this.#d.pollMs ?? 2_000);
    const stream = holdEventStream(request, raw, {
      open: this.#open,
      heartbeatMs: this.#d.heartbeatMs ?? 15_000,
      onClose: () => {
        clearInterval(poll);
        detach();
      },
    });
    pump();
  }
}
