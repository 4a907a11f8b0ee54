import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";

type Method = "GET" | "POST" | "PUT" | "DELETE";

/**
 * How a route knows its caller. `public`: nobody is authenticated (the route is listed as public);
 * `session`: a SIWE session token; `node-signature`: a consortium node's signature over the
 * request; `access-request`: a practitioner's signed AccessRequest; `session-or-access-request`:
 * either of the two.
 */
export type AuthScheme =
  "public" | "session" | "node-signature" | "access-request" | "session-or-access-request" | "cds-client-jwt";

/**
 * Authenticates the caller of a route before its handler runs; the handler receives what it
 * returns as `caller`. A route cannot forget: `route()` calls it, and the handler's type says
 * what it gets (a `Principal` on session routes, `undefined` on public ones).
 */
export interface Authenticator<A> {
  readonly scheme: AuthScheme;
  /**
   * True when it needs only the request line and headers, so it runs before the body is read
   * (an unauthenticated caller cannot make the node read a large body); false when it checks a
   * signature over the body.
   */
  readonly beforeBody: boolean;
  /** The caller, or throws `unauthenticated`. */
  authenticate(request: FastifyRequest): A | Promise<A>;
}

/** A route anyone may call; the route table names it as public. */
export const publicRoute: Authenticator<undefined> = {
  scheme: "public",
  beforeBody: true,
  authenticate: () => undefined,
};

export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType, A> {
  method: Method;
  url: string;
  summary: string;
  tags: string[];
  /** Who may call it; required, so every route declares it (see `publicRoute`). */
  auth: Authenticator<A>;
  body?: B;
  query?: Q;
  params?: P;
  bodyLimit?: number;
}

export interface Parsed<B, Q, P, A> {
  /** The authenticated caller, as the route's authenticator returned it. */
  caller: A;
  body: B;
  query: Q;
  params: P;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** One route as declared: what the route table, OpenAPI and the 405 answer are made of. */
export interface DeclaredRoute {
  method: Method;
  url: string;
  summary: string;
  tags: string[];
  auth: AuthScheme;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
}

/** Keyed by the HTTP server so routes declared in encapsulated plugins land in one table. */
const registry = new WeakMap<object, DeclaredRoute[]>();
/** Callers authenticated before the body was read, until the handler takes them. */
const early = new WeakMap<FastifyRequest, unknown>();

declare module "fastify" {
  interface FastifyContextConfig {
    /** Set by `route()` only: the route's declared authentication. */
    carechainAuth?: AuthScheme;
  }
}

/**
 * Declares a route: its caller is authenticated by `spec.auth` and its inputs validated once, at
 * the edge, with zod; the same declaration produces `/openapi.json` and the route table. A
 * validation failure becomes a 400 OperationOutcome naming the field.
 */
export function route<
  A,
  B extends z.ZodType = z.ZodUnknown,
  Q extends z.ZodType = z.ZodUnknown,
  P extends z.ZodType = z.ZodUnknown,
>(
  app: FastifyInstance,
  spec: RouteSpec<B, Q, P, A>,
  handler: (input: Parsed<z.infer<B>, z.infer<Q>, z.infer<P>, A>) => Promise<unknown>,
): void {
  const routes = registry.get(app.server) ?? [];
  registry.set(app.server, routes);
  routes.push({
    method: spec.method,
    url: spec.url,
    summary: spec.summary,
    tags: spec.tags,
    auth: spec.auth.scheme,
    ...(spec.body ? { body: spec.body } : {}),
    ...(spec.query ? { query: spec.query } : {}),
    ...(spec.params ? { params: spec.params } : {}),
  });
  const { auth } = spec;
  app.route({
    method: spec.method,
    url: spec.url,
    config: { carechainAuth: auth.scheme },
    ...(spec.bodyLimit ? { bodyLimit: spec.bodyLimit } : {}),
    ...(auth.beforeBody && auth.scheme !== "public" ? { onRequest: authenticateEarly(auth) } : {}),
    handler: async (request, reply) => {
      const caller = auth.beforeBody ? (early.get(request) as A) : await auth.authenticate(request);
      const body = parse(spec.body, request.body, "body");
      const query = parse(spec.query, request.query, "query");
      const params = parse(spec.params, request.params, "path");
      return handler({ caller, body, query, params, request, reply } as Parsed<
        z.infer<B>,
        z.infer<Q>,
        z.infer<P>,
        A
      >);
    },
  });
}

/** An onRequest hook that authenticates the caller before the body is read, for the handler to take. */
function authenticateEarly<A>(auth: Authenticator<A>) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    // callback style: a session check is synchronous, and this runs on every request
    let caller: A | Promise<A>;
    try {
      caller = auth.authenticate(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (caller instanceof Promise)
      caller.then(
        (c) => (early.set(request, c), done()),
        (error: Error) => done(error),
      );
    else {
      early.set(request, caller);
      done();
    }
  };
}

/** The part of a WebSocket (the `ws` package's, through @fastify/websocket) a route uses. */
export interface RouteSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  ping(): void;
  on(event: "close", listener: () => void): void;
}

/**
 * Declares a WebSocket route (`GET` with an upgrade; the app registers @fastify/websocket): the
 * caller is authenticated from the upgrade request's headers before the upgrade, so an
 * unauthenticated one gets the HTTP error and never a socket. A plain GET is answered 400.
 */
export function websocketRoute<A>(
  app: FastifyInstance,
  spec: { url: string; summary: string; tags: string[]; auth: Authenticator<A> },
  open: (input: { caller: A; socket: RouteSocket; request: FastifyRequest }) => Promise<void> | void,
): void {
  if (!spec.auth.beforeBody || spec.auth.scheme === "public")
    throw new BaseError("internal", "a WebSocket route authenticates from the upgrade request's headers");
  const routes = registry.get(app.server) ?? [];
  registry.set(app.server, routes);
  routes.push({
    method: "GET",
    url: spec.url,
    summary: spec.summary,
    tags: spec.tags,
    auth: spec.auth.scheme,
  });
  app.route({
    method: "GET",
    url: spec.url,
    config: { carechainAuth: spec.auth.scheme },
    onRequest: authenticateEarly(spec.auth),
    handler: async () => {
      throw new BaseError("invalid", "this route answers a WebSocket upgrade only");
    },
    wsHandler: (socket: RouteSocket, request: FastifyRequest) =>
      open({ caller: early.get(request) as A, socket, request }),
  });
}

/** Every route declared on this app, with the authentication it declares. */
export function routeTable(app: FastifyInstance): readonly DeclaredRoute[] {
  return registry.get(app.server) ?? [];
}

/** Methods of the declared routes whose pattern matches `path`, for a 405's `Allow`. */
export function methodsServing(app: FastifyInstance, path: string): Method[] {
  const methods = new Set<Method>();
  for (const r of routeTable(app)) if (patternOf(r.url).test(path)) methods.add(r.method);
  return [...methods];
}

const patterns = new Map<string, RegExp>();
function patternOf(url: string): RegExp {
  let re = patterns.get(url);
  if (!re) {
    const escaped = url
      .split("/")
      .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    re = new RegExp(`^${escaped}$`);
    patterns.set(url, re);
  }
  return re;
}

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? issue.path.join(".") : where;
  const at = path === where ? where : `${where} ${path}`;
  throw new BaseError("invalid", `${at}: ${issue ? describeIssue(issue) : "is invalid"}`, {
    expression: path,
  });
}

const SAFE_KEY_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** A zod issue in words that never repeat the input: unknown keys are named only when they look like field names. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code !== "unrecognized_keys") return issue.message;
  const shown = issue.keys.filter((k) => SAFE_KEY_RE.test(k));
  return shown.length === issue.keys.length ? `unknown field(s) ${shown.join(", ")}` : "has unknown fields";
}

/** The OpenAPI 3.1 document of every route declared with `route()` on this app. */
export function openApiDocument(app: FastifyInstance, info: { title: string; version: string }): object {
  const ops = routeTable(app);
  const paths: Record<string, Record<string, object>> = {};
  for (const op of ops) {
    const path = op.url.replace(/:([A-Za-z_]+)/g, "{$1}");
    const parameters: object[] = [];
    for (const [where, schema] of [
      ["query", op.query],
      ["path", op.params],
    ] as const) {
      if (!schema) continue;
      const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
        properties?: Record<string, object>;
        required?: string[];
      };
      for (const [name, s] of Object.entries(json.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === "path" || (json.required ?? []).includes(name),
          schema: s,
        });
      }
    }
    paths[path] ??= {};
    paths[path][op.method.toLowerCase()] = {
      summary: op.summary,
      tags: op.tags,
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: {
                "application/json": {
                  schema: z.toJSONSchema(op.body, { io: "input", unrepresentable: "any" }),
                },
              },
            },
          }
        : {}),
      ...(op.auth === "session" ? { security: [{ bearer: [] }] } : {}),
      "x-carechain-auth": op.auth,
      responses: {
        default: {
          description: "Success, or a FHIR OperationOutcome with a 4xx/5xx status",
          content: { "application/json": {} },
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT (SIWE session)" } },
    },
    paths,
  };
}
