/**
 * The append path's half of version 2 entries (src/audit/auditEntry.ts): for an entry about a
 * patient with categories or a non-marker reason, a fresh 128-bit salt, the opening row and the
 * commitment that takes their place in the entry's text. Salts are drawn from a pool of random
 * bytes filled 64 KiB at a time and converted to hex once, so an entry costs a substring and one
 * native SHA-256 of a short string, not a system call.
 */
import { randomFillSync } from "node:crypto";
import type { AuditOpeningTable } from "../store/schema.js";
import { factsToSeal, openingText, type AuditEntry } from "./auditEntry.js";
import { serverCommitment } from "./serverHash.js";

/** Hex digits of one salt (128 bits). */
export const SALT_DIGITS = 32;
const POOL_BYTES = 64 * 1024;

let pool = "";
let at = 0;

/** The next 128-bit salt as 32 lowercase hex digits (a substring of a pool converted once). */
function nextSalt(): string {
  if (at + SALT_DIGITS > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES)).toString("hex");
    at = 0;
  }
  const salt = pool.slice(at, at + SALT_DIGITS);
  at += SALT_DIGITS;
  return salt;
}

/**
 * Seals what an entry must not hold in clear.
 * @param e - a validated entry
 * @param idx - its index in the log
 * @returns the commitment for its text and the opening row, or null when nothing is taken out
 */
export function sealFacts(
  e: AuditEntry,
  idx: number,
): { commitment: string; opening: AuditOpeningTable } | null {
  const facts = factsToSeal(e);
  if (facts === undefined) return null;
  const salt = nextSalt();
  const text = openingText(facts);
  return {
    commitment: serverCommitment(salt, text),
    opening: { idx, salt, facts: text },
  };
}
