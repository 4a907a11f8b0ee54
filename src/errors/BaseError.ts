/**
 * The one error shape of carechain: a short message for people, optional details for machines,
 * and a cause chain. The API maps it to a FHIR OperationOutcome in one place
 * (`src/api/operationOutcome.ts`); the CLI maps it to a message and an exit code in one place.
 * Messages never carry PHI: name the field or the rule, not the value.
 */
export type ErrorKind =
  | "invalid" // bad input: 400
  | "unauthenticated" // no or bad credentials: 401
  | "forbidden" // consent or role says no: 403
  | "not-found" // 404
  | "conflict" // version or nonce conflict: 409
  | "gone" // deleted: 410
  | "precondition" // a conditional request's condition failed (If-Match, several matches): 412
  | "too-large" // 413
  | "unsupported" // 415
  | "rate-limited" // 429
  | "unavailable" // a dependency (ledger, database, peer) is down: 503
  | "timeout" // a dependency did not answer in time: 504
  | "config" // bad configuration: the process refuses to start
  | "internal"; // a bug: 500

export interface BaseErrorOptions {
  details?: string | undefined;
  cause?: unknown;
  /** FHIR OperationOutcome issue code, when more precise than the kind's default. */
  code?: string | undefined;
  /** FHIRPath-ish location of the offending input, e.g. `Observation.code`. */
  expression?: string | undefined;
}

export class BaseError extends Error {
  override readonly name: string = "CarechainError";
  readonly kind: ErrorKind;
  readonly details: string | undefined;
  readonly code: string | undefined;
  readonly expression: string | undefined;

  constructor(kind: ErrorKind, message: string, options: BaseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.details = options.details;
    this.code = options.code;
    this.expression = options.expression;
  }
}

export const invalid = (message: string, options?: BaseErrorOptions): BaseError =>
  new BaseError("invalid", message, options);
export const forbidden = (message: string, options?: BaseErrorOptions): BaseError =>
  new BaseError("forbidden", message, options);
export const notFound = (message: string, options?: BaseErrorOptions): BaseError =>
  new BaseError("not-found", message, options);
export const unauthenticated = (message: string, options?: BaseErrorOptions): BaseError =>
  new BaseError("unauthenticated", message, options);
export const conflict = (message: string, options?: BaseErrorOptions): BaseError =>
  new BaseError("conflict", message, options);
export const unavailable = (message: string, options?: BaseErrorOptions): BaseError =>
  new BaseError("unavailable", message, options);

/** Walks the cause chain and returns the first error matching `predicate`. */
export function findCause(error: unknown, predicate: (e: unknown) => boolean): unknown {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 16; depth++) {
    if (predicate(current)) return current;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}
