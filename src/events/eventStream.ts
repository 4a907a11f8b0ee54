import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * Takes the response over for a Server-Sent Events stream: the status line and headers (no
 * caching or proxy buffering), a reconnection delay of 2 s and an opening comment.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html
 * @returns the raw response to write frames to
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply, comment: string) {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-request-id": request.id,
  });
  raw.write(`retry: 2000\n: ${comment}\n\n`);
  return raw;
}

export interface HeldStream {
  /** True once the stream ended (either side closed, or the server ended it). */
  readonly closed: boolean;
}

/**
 * Keeps an opened event stream alive until either side closes it: a heartbeat comment every
 * `heartbeatMs`, and one ending that runs `onClose`, ends the response and leaves `open` (the
 * set a closing server ends every stream through).
 * @param request - The stream's request (its connection closing ends the stream).
 * @param raw - What {@link openEventStream} returned.
 */
export function holdEventStream(
  request: FastifyRequest,
  raw: ServerResponse,
  options: { open: Set<() => void>; heartbeatMs: number; onClose: () => void },
): HeldStream {
  const state = { closed: false };
  const heartbeat = setInterval(() => {
    if (!state.closed) raw.write(": heartbeat\n\n");
  }, options.heartbeatMs);
  const finish = (): void => {
    if (state.closed) return;
    state.closed = true;
    clearInterval(heartbeat);
    options.onClose();
    options.open.delete(finish);
    raw.end();
  };
  options.open.add(finish);
  request.raw.on("close", finish);
  raw.on("close", finish);
  return state;
}
