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
  message?: string;
  validation?: unknown;
}

/**
 * The one place where an error becomes an HTTP status and a FHIR OperationOutcome. Known
 * errors keep their message (they never carry PHI); anything else is an internal error whose
 * message is not shown.
 */
export function toOperationOutcome(error: unknown): { status: number; body: OperationOutcome } {
  const known = asBaseError(error);
  const status = STATUS[known.kind];
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

/** Maps framework errors (Fastify's body parser, rate limiter, schema validation) to a BaseError. */
export function asBaseError(error: unknown): BaseError {
  if (error instanceof BaseError) return error;
  const e = (error ?? {}) as FastifyLikeError;
  const code = e.code ?? "";
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE") return new BaseError("too-large", "request body is too large");
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
    return new BaseError(
      "unsupported",
      "unsupported content type: send application/json or application/fhir+json",
    );
  if (code === "FST_ERR_BAD_URL")
    return new BaseError("invalid", "request URL is malformed: bad percent-encoding in the path");
  if (code === "FST_ERR_CTP_EMPTY_JSON_BODY") return new BaseError("invalid", "request body is empty");
  if (code === "FST_ERR_CTP_INVALID_JSON_BODY" || (error instanceof SyntaxError && e.statusCode === 400))
    return new BaseError("invalid", "request body is not valid JSON");
  if (e.validation !== undefined)
    return new BaseError("invalid", `request is invalid: ${e.message ?? "schema validation failed"}`);
  if (e.statusCode === 429) return new BaseError("rate-limited", "too many requests; slow down");
  if (e.statusCode === 404) return new BaseError("not-found", "not found");
  if (e.statusCode === 405) return new BaseError("invalid", "method not allowed", { code: "not-supported" });
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500)
    return new BaseError("invalid", e.message ?? "bad request");
  return new BaseError("internal", "internal error", { cause: error });
}
