import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";

type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  method: Method;
  url: string;
  summary: string;
  tags: string[];
  body?: B;
  query?: Q;
  params?: P;
  /** Requires a session (documented in OpenAPI; enforced by the handler's principal lookup). */
  auth?: boolean;
  bodyLimit?: number;
}

export interface Parsed<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  request: FastifyRequest;
  reply: FastifyReply;
}

interface OpenApiOperation {
  method: Method;
  url: string;
  summary: string;
  tags: string[];
  auth: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
}

/** Keyed by the HTTP server so routes declared in encapsulated plugins land in one document. */
const registry = new WeakMap<object, OpenApiOperation[]>();

/**
 * Declares a route whose inputs are validated once, at the edge, with zod; the same schemas
 * produce `/openapi.json`. A validation failure becomes a 400 OperationOutcome naming the field.
 */
export function route<
  B extends z.ZodType = z.ZodUnknown,
  Q extends z.ZodType = z.ZodUnknown,
  P extends z.ZodType = z.ZodUnknown,
>(
  app: FastifyInstance,
  spec: RouteSpec<B, Q, P>,
  handler: (input: Parsed<z.infer<B>, z.infer<Q>, z.infer<P>>) => Promise<unknown>,
): void {
  const ops = registry.get(app.server) ?? [];
  registry.set(app.server, ops);
  ops.push({
    method: spec.method,
    url: spec.url,
    summary: spec.summary,
    tags: spec.tags,
    auth: spec.auth ?? false,
    ...(spec.body ? { body: spec.body } : {}),
    ...(spec.query ? { query: spec.query } : {}),
    ...(spec.params ? { params: spec.params } : {}),
  });
  app.route({
    method: spec.method,
    url: spec.url,
    ...(spec.bodyLimit ? { bodyLimit: spec.bodyLimit } : {}),
    handler: async (request, reply) => {
      const body = parse(spec.body, request.body, "body");
      const query = parse(spec.query, request.query, "query");
      const params = parse(spec.params, request.params, "path");
      return handler({ body, query, params, request, reply } as Parsed<z.infer<B>, z.infer<Q>, z.infer<P>>);
    },
  });
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
  const ops = registry.get(app.server) ?? [];
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
      ...(op.auth ? { security: [{ bearer: [] }] } : {}),
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
