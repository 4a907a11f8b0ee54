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
