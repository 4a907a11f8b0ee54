/**
 * The append path's half of version 2 entries (src/audit/auditEntry.ts): for an entry about a
 * patient with categories or a non-marker reason, a fresh 128-bit salt, the opening row and the
 * commitment that takes their place in the entry's text. Salts are drawn from a pool of random
 * bytes filled 64 KiB at a time, so an entry costs a slice, a hex conversion and one native
 * SHA-256, not a system call.
 */
import { randomFillSync } from "node:crypto";
import type { AuditOpeningTable } from "../store/schema.js";
import { factsToSeal, openingText, type AuditEntry } from "./auditEntry.js";
import { serverCommitment } from "./serverHash.js";

const SALT_BYTES = 16;
const POOL_BYTES = 64 * 1024;

let pool = Buffer.alloc(0);
let at = POOL_BYTES;

function nextSalt(): Buffer {
  if (at + SALT_BYTES > pool.length) {
    // A new buffer each time: a salt handed out earlier is never overwritten.
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    at = 0;
  }
  const salt = pool.subarray(at, at + SALT_BYTES);
  at += SALT_BYTES;
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
    opening: { idx, salt: salt.toString("hex"), facts: text },
  };
}
