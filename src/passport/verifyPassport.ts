/**
 * One entry point for every form a health credential arrives in: `shc:/` text (single or chunked),
 * a compact JWS, a `.smart-health-card` file, a QR code image (PNG), or `HC1:` text. The CLI,
 * `POST /passport/verify` and the library all verify through here.
 */
import { z } from "zod";
import { verifyDcc } from "./dccVerifier.js";
import { PassportFormatError, type PassportReport } from "./passportReport.js";
import { decodeQrPng } from "./qrImage.js";
import { decodeShcUri } from "./shcNumeric.js";
import { verifyShcJws } from "./shcVerifier.js";
import type { TrustStore } from "./trustStore.js";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const cardFileSchema = z.object({ verifiableCredential: z.array(z.string()).min(1) });

/**
 * Verifies every credential the input holds (a `.smart-health-card` file may hold several; the
 * chunks of one card, as text lines or as several QR images, make one).
 * @param inputs - texts or file bytes; several QR images of one chunked card go in together
 * @param trust - what the verifier trusts
 * @param now - verification time
 * @returns one report per credential
 */
export function verifyPassport(
  inputs: readonly (string | Uint8Array)[],
  trust: TrustStore,
  now: Date,
): PassportReport[] {
  const texts = inputs.map(inputText);
  const shcLines = texts.filter((text) => /^sh.:/i.test(text.trimStart()));
  const reports: PassportReport[] = [];
  if (shcLines.length > 0) reports.push(verifyShcText(shcLines.join("\n"), trust, now));
  for (const text of texts.filter((candidate) => !/^sh.:/i.test(candidate.trimStart()))) {
    reports.push(...verifyOne(text.trim(), trust, now));
  }
  return reports;
}

function inputText(input: string | Uint8Array): string {
  if (typeof input === "string") return input;
  if (Buffer.from(input.subarray(0, 4)).equals(PNG_SIGNATURE)) return decodeQrPng(input);
  return Buffer.from(input).toString("utf8");
}

function verifyOne(text: string, trust: TrustStore, now: Date): PassportReport[] {
  if (text.startsWith("HC")) return [verifyDcc(text, trust, now)];
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
