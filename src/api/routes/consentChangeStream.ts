import type { FastifyReply, FastifyRequest } from "fastify";
import { granteeKeysOf, type GranteeFeed } from "../../consent/granteeFeed.js";
import { holdEventStream, openEventStream } from "../../events/eventStream.js";
import type { Principal } from "../../model/principal.js";

/**
 * `GET /consents/shared-with-me/stream`: Server-Sent Events telling a grantee, live, that a grant
 * naming them (as a practitioner, their organization or their role there) was revoked or started
 * to count here. Each is one `consent` event `{grantId, patient, change}`; the page then re-reads
 * what it may show (`/consents/shared-with-me`, the record), which the server already decides
 * under the new state. Nothing is replayed: a page that reconnects re-reads anyway.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
export class ConsentChangeStreams {
  readonly #open = new Set<() => void>();

  constructor(
    private readonly feed: Pick<GranteeFeed, "listen">,
    private readonly heartbeatMs = 15_000,
  ) {}

  /** Ends every open stream (the server is closing). */
  closeAll(): void {
    for (const finish of [...this.#open]) finish();
  }

  serve(request: FastifyRequest, reply: FastifyReply, principal: Principal): void {
    const keys = granteeKeysOf(principal);
    const raw = openEventStream(request, reply, "consent changes");
    const detach = this.feed.listen((c) => {
      if (stream.closed || !keys.has(c.grantee)) return;
      const data = JSON.stringify({ grantId: c.grantId, patient: c.patient, change: c.change });
      raw.write(`event: consent\ndata: ${data}\n\n`);
    });
    const stream = holdEventStream(request, raw, {
      open: this.#open,
      heartbeatMs: this.heartbeatMs,
      onClose: detach,
    });
  }
}
