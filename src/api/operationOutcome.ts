import { BaseError, type ErrorKind } from "../errors/BaseError.js";

/** FHIR R4 OperationOutcome (https://hl7.org/fhir/R4/operationoutcome.html). */
export interface OperationOutcome {
  resourceType: "OperationOutcome";
  issue: Array<{
    severity: "fatal" | "error" | "warning" | "information";
    code: string;
    diagnostics?: string;
    expression?: string[];
  }>;
}

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  "not-found": 404,
  conflict: 409,
  gone: 410,
  precondition: 412,
  "too-large": 413,
  unsupported: 415,
  "rate-limited": 429,
  unavailable: 503,
  timeout: 504,
  config: 500,
  internal: 500,
};

/** FHIR issue-type codes (https://hl7.org/fhir/R4/valueset-issue-type.html). */
const ISSUE_CODE: Record<ErrorKind, string> = {
  invalid: "invalid",
  unauthenticated: "login",
  forbidden: "forbidden",
  "not-found": "not-found",
  conflict: "conflict",
  gone: "deleted",
  precondition: "conflict",
  "too-large": "too-costly",
  unsupported: "not-supported",
  "rate-limited": "throttled",
  unavailable: "transient",
  timeout: "timeout",
  config: "exception",
  internal: "exception",
};

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  validation?: unknown;
}

/**
 * Refusals of the framework and of Node's HTTP parser, each with the status HTTP gives it and a
 * message of our own: their own messages quote the request (a path, a content type, a body).
 */
const FRAMEWORK: Record<string, { kind: ErrorKind; status?: number; message: string; code?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { kind: "too-large", message: "request body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    kind: "unsupported",
    message: "unsupported content type: send application/json or application/fhir+json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    kind: "invalid",
    message: "request body length does not match Content-Length",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { kind: "invalid", message: "request body is empty" },
  FST_ERR_CTP_INVALID_JSON_BODY: { kind: "invalid", message: "request body is not valid JSON" },
  FST_ERR_BAD_URL: { kind: "invalid", message: "request URL is malformed: bad percent-encoding in the path" },
  FST_ERR_MAX_PARAM_LENGTH: {
    kind: "invalid",
    status: 414,
    message: "a path parameter is longer than 100 characters",
    code: "too-long",
  },
  HPE_HEADER_OVERFLOW: {
    kind: "too-large",
    status: 431,
    message: "request line or headers are too large (16 KiB at most)",
    code: "too-long",
  },
  ERR_HTTP_REQUEST_TIMEOUT: { kind: "timeout", status: 408, message: "request was not received in time" },
};

/** A refusal whose HTTP status is more precise than its kind's (414, 431, 408, 405). */
class StatusError extends BaseError {
  constructor(
    readonly status: number,
    kind: ErrorKind,
    message: string,
    code: string | undefined,
  ) {
    super(kind, message, { code });
  }
}

/** Fixed words for any other 4xx the framework raises: its own message may quote the request. */
const CLIENT_ERROR_TEXT: Record<number, string> = {
  400: "bad request",
  404: "not found",
  405: "method not allowed for this path",
  408: "request was not received in time",
  413: "request body is too large",
  414: "request URL is too long",
  415: "unsupported content type",
  429: "too many requests; slow down",
  431: "request line or headers are too large (16 KiB at most)",
};

/**
 * The one place where an error becomes an HTTP status and a FHIR OperationOutcome. Known
 * errors keep their message (they never carry PHI); anything else is an internal error whose
 * message is not shown.
 */
export function toOperationOutcome(error: unknown): { status: number; body: OperationOutcome } {
  const known = asBaseError(error);
  const status = known instanceof StatusError ? known.status : STATUS[known.kind];
  const text = known.details ? `${known.message}: ${known.details}` : known.message;
  return {
    status,
    body: {
      resourceType: "OperationOutcome",
      issue: [
        {
          severity: status >= 500 ? "fatal" : "error",
          code: known.code ?? ISSUE_CODE[known.kind],
          diagnostics: text,
          ...(known.expression ? { expression: [known.expression] } : {}),
        },
      ],
    },
  };
}

/**
 * The raw HTTP answer to a request Node's parser refused before the framework saw it (431 for an
 * over-long request line or headers, 408, 400 for a malformed request): the same OperationOutcome
 * as every other error, written straight to the socket.
 */
export function clientErrorResponse(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const { status, body } = toOperationOutcome(
    typeof code === "string" && FRAMEWORK[code]
      ? error
      : new StatusError(400, "invalid", "malformed HTTP request", undefined),
  );
  const text = JSON.stringify(body);
  return [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Bad Request"}`,
    "Content-Type: application/fhir+json",
    `Content-Length: ${Buffer.byteLength(text)}`,
    "Connection: close",
    "",
    text,
  ].join("\r\n");
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/** The answer to a known path asked with a method it does not serve (RFC 9110 section 15.5.6). */
export function methodNotAllowed(): BaseError {
  return new StatusError(405, "unsupported", "method not allowed for this path", "not-supported");
}

/** The answer to a path no route serves; names neither the method nor the path. */
export function noRoute(): BaseError {
  return new BaseError("not-found", "no route for this method and path");
}

/** Maps framework errors (Fastify's body parser, rate limiter, router, Node's HTTP parser) to a BaseError. */
export function asBaseError(error: unknown): BaseError {
  if (error instanceof BaseError) return error;
  const e = (error ?? {}) as FastifyLikeError;
  const known = FRAMEWORK[e.code ?? ""];
  if (known)
    return known.status === undefined
      ? new BaseError(known.kind, known.message, { code: known.code })
      : new StatusError(known.status, known.kind, known.message, known.code);
  if (error instanceof SyntaxError && e.statusCode === 400)
    return new BaseError("invalid", "request body is not valid JSON");
  if (e.validation !== undefined) return new BaseError("invalid", "request is invalid");
  if (e.statusCode === 429) return new BaseError("rate-limited", "too many requests; slow down");
  if (e.statusCode === 404) return noRoute();
  if (e.statusCode === 405) return methodNotAllowed();
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const text = CLIENT_ERROR_TEXT[e.statusCode] ?? "bad request";
    return e.statusCode === 400
      ? new BaseError("invalid", text)
      : new StatusError(e.statusCode, "invalid", text, undefined);
  }
  return new BaseError("internal", "internal error", { cause: error });
}
