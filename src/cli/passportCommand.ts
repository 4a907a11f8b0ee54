import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { reportText } from "../passport/passportText.js";
import { verifierTrust } from "../passport/verifierTrust.js";
import { verifyPassport } from "../passport/verifyPassport.js";

const verifyOptions = z.object({
  trust: z.array(z.string()).default([]),
  ledgerCache: z.string().optional(),
  now: z.string().optional(),
  json: z.boolean().optional(),
});

/** An argument that names an existing file is read as bytes; anything else is the credential's text. */
function readInput(argument: string): string | Uint8Array {
  if (/^(shc:|HC\d?:|ey)/i.test(argument) || !existsSync(argument)) return argument;
  return readFileSync(argument);
}

function parseNow(now: string | undefined): Date {
  if (now === undefined) return new Date();
  const date = new Date(/^\d+(\.\d+)?$/.test(now) ? Number(now) * 1000 : now);
  if (Number.isNaN(date.getTime()))
    throw new BaseError("invalid", "--now must be an ISO time or seconds since the epoch");
  return date;
}

/**
 * `carechain passport verify`: verifies health cards offline; exit 0 only when every card is valid.
 * @returns the exit code
 */
export function runPassportVerify(
  inputs: readonly string[],
  rawOptions: unknown,
  write: (text: string) => void,
): number {
  const options = verifyOptions.parse(rawOptions);
  const trust = verifierTrust(options.trust, options.ledgerCache);
  const reports = verifyPassport(inputs.map(readInput), trust, parseNow(options.now));
  const valid = reports.length > 0 && reports.every((report) => report.valid);
  if (options.json === true) write(`${JSON.stringify({ valid, reports }, null, 2)}\n`);
  else write(reports.map(reportText).join("\n"));
  return valid ? 0 : 1;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `carechain passport …`: SMART Health Cards and EU DCCs. */
export function registerPassportCommand(program: Command): void {
  const passport = program
    .command("passport")
    .description("digital health passport: SMART Health Cards and EU DCCs");
  passport
    .command("verify")
    .description(
      "verify shc:/ text, a .smart-health-card file, a QR image (PNG), a JWS or HC1: text, offline",
    )
    .argument("<input...>", "the credential or files holding it (chunk QR images of one card together)")
    .option(
      "--trust <path>",
      "JWKS, CRL, DSC certificate or ledger cache file, or a folder of them (repeatable)",
      collect,
    )
    .option("--ledger-cache <file>", "issuers registered on the ledger, cached for offline use")
    .option("--now <time>", "verify as of this time (ISO 8601 or epoch seconds)")
    .option("--json", "print the reports as JSON")
    .action((inputs: string[], opts: unknown) => {
      process.exitCode = runPassportVerify(inputs, opts, (text) => process.stdout.write(text));
    });
}
