import { BaseError } from "../errors/BaseError.js";
import { asBaseError } from "../api/operationOutcome.js";

/** Exit codes of the CLI: 0 ok, 1 failure, 2 bad usage or input, 3 unavailable dependency, 4 refused. */
export function exitCodeOf(error: BaseError): number {
  switch (error.kind) {
    case "invalid":
    case "config":
    case "too-large":
    case "unsupported":
      return 2;
    case "unavailable":
    case "timeout":
      return 3;
    case "unauthenticated":
    case "forbidden":
      return 4;
    case "not-found":
    case "conflict":
    case "gone":
    case "precondition":
    case "rate-limited":
    case "internal":
      return 1;
  }
}

/**
 * The one place where the CLI turns an error into a one-line message on stderr and an exit code.
 * Unexpected errors print a stack trace only with CARECHAIN_DEBUG=1.
 */
export function reportCliError(error: unknown): number {
  const known = error instanceof BaseError ? error : commanderOrUnknown(error);
  const line = known.details ? `${known.message}: ${known.details}` : known.message;
  process.stderr.write(`carechain: ${line}\n`);
  if (process.env.CARECHAIN_DEBUG === "1" && error instanceof Error)
    process.stderr.write(`${error.stack ?? ""}\n`);
  return exitCodeOf(known);
}

function commanderOrUnknown(error: unknown): BaseError {
  const e = error as { code?: string; message?: string };
  if (typeof e?.code === "string" && e.code.startsWith("commander.")) {
    return new BaseError("invalid", (e.message ?? "bad usage").replace(/^error: /, ""));
  }
  const mapped = asBaseError(error);
  if (mapped.kind === "internal" && error instanceof Error) {
    return new BaseError(
      "internal",
      `unexpected error (${error.name}); rerun with CARECHAIN_DEBUG=1 for details`,
    );
  }
  return mapped;
}
