import { BaseError, type ErrorKind } from "./BaseError.js";

const STATUS_KIND: Record<number, ErrorKind> = {
  400: "invalid",
  401: "unauthenticated",
  403: "forbidden",
  404: "not-found",
  409: "conflict",
  413: "too-large",
  415: "unsupported",
  422: "invalid",
  429: "rate-limited",
  503: "unavailable",
  504: "timeout",
};

/** The error kind an HTTP status stands for (the inverse of `src/api/operationOutcome.ts`). */
export function kindOfStatus(status: number): ErrorKind {
  return STATUS_KIND[status] ?? (status >= 500 ? "internal" : "invalid");
}

/**
 * The error a node's non-2xx answer stands for, on the client side: the kind of its status and
 * the diagnostics of its OperationOutcome (first line), or the status when it sent none.
 * @param status - the HTTP status
 * @param body - the parsed JSON body, if any
 */
export function errorOfAnswer(status: number, body: unknown): BaseError {
  const outcome = body as { resourceType?: string; issue?: Array<{ diagnostics?: string; code?: string }> };
  const issue = outcome?.resourceType === "OperationOutcome" ? outcome.issue?.[0] : undefined;
  const message = issue?.diagnostics ?? `the node answered HTTP ${status}`;
  return new BaseError(kindOfStatus(status), message.split("\n")[0]!.slice(0, 500), {
    code: issue?.code,
  });
}
