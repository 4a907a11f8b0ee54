import { randomUUID } from "node:crypto";
import rateLimit from "@fastify/rate-limit";
import websocket from "@fastify/websocket";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from "fastify";
import type { Logger } from "pino";
import { BaseError } from "../errors/BaseError.js";
import { clientErrorResponse, methodNotAllowed, noRoute, toOperationOutcome } from "./operationOutcome.js";
import { methodsServing, openApiDocument, publicRoute, route } from "./routeDef.js";

/**
 * Security headers on every response: what helmet sets by default (less Content-Security-Policy,
 * which an API of JSON documents does not need). Set once per request from a constant: building
 * helmet's middleware on each request was a tenth of a request's CPU time.
 */
const SECURITY_HEADERS = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "origin-agent-cluster": "?1",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-dns-prefetch-control": "off",
  "x-download-options": "noopen",
  "x-frame-options": "SAMEORIGIN",
  "x-permitted-cross-domain-policies": "none",
  "x-xss-protection": "0",
} as const;

export interface AppOptions {
  logger: Logger;
  /** Requests per minute per client address (default 6000). */
  rateLimitPerMinute?: number;
  /** Default body limit in bytes (default 1 MiB); bundle import raises it per route. */
  bodyLimit?: number;
  /** Registers the rooms' routes. */
  routes: Array<(app: FastifyInstance) => Promise<void> | void>;
  version?: string;
}

/**
 * Builds the node's HTTP app: security headers, rate and size limits, JSON and FHIR JSON bodies,
 * request ids, one error mapping to FHIR OperationOutcome, and `/openapi.json`.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const log = options.logger;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      // A caller's id is kept only when the audit log can name it (an opaque id: it starts with a
      // letter or digit); any other gets a fresh one, so the request's audit entry stays valid.
      return typeof given === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(given)
        ? given
        : randomUUID();
    },
    requestIdHeader: false,
    // One logger for all requests (entries name their request id): a pino child per request,
    // with its bindings serialized and redaction set up, cost more than the rest of routing.
    childLoggerFactory: (logger) => logger,
    // Fastify's own request lines would log query strings; `onResponse` below logs paths only.
    logController: new LogController({ disableRequestLogging: true }),
    // errors raised before routing (a malformed percent-encoded URL) get the same OperationOutcome
    frameworkErrors: (error, _request, reply) => {
      const { status, body } = toOperationOutcome(error);
      void (reply as FastifyReply).status(status).type("application/fhir+json").send(body);
    },
    // requests Node's HTTP parser refuses (431 over-long URL or headers, 400 malformed, 408)
    clientErrorHandler: (error, socket) => {
      if ((error as NodeJS.ErrnoException).code === "ECONNRESET" || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(error));
      socket.destroy();
    },
  });

  // Every route declares who may call it: one registered past `route()` stops the node at start.
  app.addHook("onRoute", (options) => {
    if (options.config?.carechainAuth === undefined)
      throw new BaseError("internal", "a route must be declared with route() and its authentication", {
        details: `${options.method} ${options.url}`,
      });
  });

  app.addContentTypeParser(
    ["application/fhir+json", "application/json-patch+json"],
    { parseAs: "string" },
    app.getDefaultJsonParser("error", "ignore"),
  );

  app.addHook("onRequest", (request, reply, done) => {
    reply.headers(SECURITY_HEADERS).header("x-request-id", request.id);
    done();
  });
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? 6000,
    timeWindow: "1 minute",
    // device batches have their own per-device budget (src/monitoring/deviceLimits.ts): many
    // devices behind one gateway address must not share one client budget
    allowList: (req) => req.url === "/health" || req.url === "/monitoring/batches",
  });

  // WebSocket routes (src/api/routeDef.ts websocketRoute); frames past 4 KiB end the socket
  await app.register(websocket, { options: { maxPayload: 4096 } });

  app.addHook("onResponse", (request, reply, done) => {
    // Paths may hold resource ids but never PHI; query strings are not logged.
    if (log.isLevelEnabled("info")) {
      log.info(
        {
          reqId: request.id,
          method: request.method,
          path: request.url.split("?")[0],
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        "request",
      );
    }
    done();
  });

  app.setErrorHandler(async (error, request, reply) => {
    const { status, body } = toOperationOutcome(error);
    if (status >= 500) log.error({ reqId: request.id, err: redactedError(error) }, "request failed");
    return reply.status(status).type("application/fhir+json").send(body);
  });
  app.setNotFoundHandler(async (request, reply) => {
    // answers name neither the method nor the path: both are the caller's input
    const allowed = methodsServing(app, request.url.split("?")[0] ?? "");
    if (allowed.length > 0) void reply.header("allow", allowed.join(", "));
    const { status, body } = toOperationOutcome(allowed.length > 0 ? methodNotAllowed() : noRoute());
    return reply.status(status).type("application/fhir+json").send(body);
  });

  for (const register of options.routes) await register(app);

  route(
    app,
    { method: "GET", url: "/openapi.json", summary: "This API", tags: ["node"], auth: publicRoute },
    async () => openApiDocument(app, { title: "carechain node API", version: options.version ?? "0.1.0" }),
  );
  return app;
}

/**
 * What an unexpected error may put in the log: its type and where it was thrown, not its message
 * (which may quote input, and input may be PHI). Known errors carry only our own short messages.
 */
function redactedError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const frames = (error.stack ?? "").split("\n").slice(1, 12).join("\n");
  const known = error instanceof BaseError;
  return {
    type: error.name,
    ...(known ? { kind: error.kind, message: error.message } : {}),
    code: (error as { code?: unknown }).code,
    stack: frames,
    ...(error.cause instanceof Error ? { cause: redactedError(error.cause) } : {}),
  };
}
