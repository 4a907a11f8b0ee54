/**
 * Verifying credentials given as text: `shc:/` lines (one card, or all chunks of one card), a
 * compact JWS, a `.smart-health-card` file's JSON, or `HC1:` text. Plain TypeScript: the node
 * (verifyPassport.ts, which also reads QR images) and the browser verifier both verify through here.
 */
import { z } from "zod";
import { PassportFormatError, type PassportReport } from "./passportReport.js";
import { decodeShcUri } from "./shcNumeric.js";
import { verifyShcJws } from "./shcVerifier.js";
import type { TrustStore } from "./trustStore.js";

const cardFileSchema = z.object({ verifiableCredential: z.array(z.string()).min(1) });

/** Verifies an `HC1:` EU DCC; the node passes dccVerifier.ts's (CBOR, COSE and X.509 need Node). */
export type DccVerifier = (text: string, trust: TrustStore, now: Date) => PassportReport;

/** True when a text is an EU DCC (`HC1:`) rather than a SMART Health Card. */
export const isDccText = (text: string): boolean => text.trim().startsWith("HC");

/**
 * Verifies every credential the texts hold (a `.smart-health-card` file may hold several; the
 * `shc:/` chunks of one card, given as several texts, make one).
 * @param texts - one credential or one `shc:/` chunk per text
 * @param trust - what the verifier trusts
 * @param now - verification time
 * @param verifyDcc - verifies `HC1:` texts; without it, texts must be SMART Health Cards
 * @returns one report per credential
 */
export function verifyCredentialTexts(
  texts: readonly string[],
  trust: TrustStore,
  now: Date,
  verifyDcc?: DccVerifier,
): PassportReport[] {
  const shcLines = texts.filter((text) => /^sh.:/i.test(text.trimStart()));
  const reports: PassportReport[] = [];
  if (shcLines.length > 0) reports.push(verifyShcText(shcLines.join("\n"), trust, now));
  for (const text of texts.filter((candidate) => !/^sh.:/i.test(candidate.trimStart()))) {
    reports.push(...verifyOne(text.trim(), trust, now, verifyDcc));
  }
  return reports;
}

function verifyOne(text: string, trust: TrustStore, now: Date, verifyDcc?: DccVerifier): PassportReport[] {
  if (text.startsWith("HC")) {
    if (verifyDcc === undefined) throw new TypeError("HC1: texts need a DCC verifier");
    return [verifyDcc(text, trust, now)];
  }
  if (text.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return [verifyShcJws("", trust, now)];
    }
    const file = cardFileSchema.safeParse(json);
    if (!file.success) return [verifyShcJws("", trust, now)];
    return file.data.verifiableCredential.map((jws) => verifyShcJws(jws, trust, now));
  }
  return [verifyShcJws(text, trust, now)];
}

function verifyShcText(text: string, trust: TrustStore, now: Date): PassportReport {
  let jws: string;
  try {
    jws = decodeShcUri(text);
  } catch (error) {
    if (!(error instanceof PassportFormatError)) throw error;
    const report = verifyShcJws("", trust, now);
    const first = report.checks[0];
    if (first !== undefined) Object.assign(first, { reason: error.reason, detail: error.message });
    report.reason = error.reason;
    return report;
  }
  return verifyShcJws(jws, trust, now);
}
