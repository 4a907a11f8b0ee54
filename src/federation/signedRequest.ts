import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Schema } from "../store/schema.js";
import { verifyNodeRequest, type VerifiedNode } from "./nodeAuth.js";

const rawBodies = new WeakMap<FastifyRequest, string>();

/**
 * Makes the JSON body parser of `app` (use an encapsulated plugin) keep the exact request bytes,
 * which a node signature covers. Call it once in the plugin that declares node-signed routes.
 * @param app - An encapsulated Fastify context.
 */
export function captureRawJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    rawBodies.set(request, text);
    if (text === "") {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (cause) {
      done(
        Object.assign(new Error("body is not valid JSON", { cause }), {
          statusCode: 400,
          code: "FST_ERR_CTP_INVALID_JSON_BODY",
        }),
        undefined,
      );
    }
  });
}

/** The exact body bytes of a request parsed under `captureRawJsonBody` ("" when there was none). */
export function rawBodyOf(request: FastifyRequest): string {
  return rawBodies.get(request) ?? "";
}

/**
 * Verifies the node signature of a Fastify request (see `verifyNodeRequest`): path and query as
 * received, the raw body captured by `captureRawJsonBody`.
 * @param request - The incoming request.
 * @param db - The serving node's database.
 * @param now - Unix ms.
 * @returns The requesting node and its organization.
 */
export async function verifyFastifyNodeRequest(
  request: FastifyRequest,
  db: Kysely<Schema>,
  now: number = Date.now(),
): Promise<VerifiedNode> {
  return verifyNodeRequest(
    { method: request.method, path: request.url, body: rawBodyOf(request), headers: request.headers },
    db,
    now,
  );
}
