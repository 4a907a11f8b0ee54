/**
 * One entry point for every form a health credential arrives in: `shc:/` text (single or chunked),
 * a compact JWS, a `.smart-health-card` file, a QR code image (PNG), or `HC1:` text. The CLI,
 * `POST /passport/verify` and the library all verify through here; the texts go to
 * verifyCredentialTexts, which the browser verifier calls too.
 */
import { verifyDcc } from "./dccVerifier.js";
import type { PassportReport } from "./passportReport.js";
import { decodeQrPng } from "./qrImage.js";
import type { TrustStore } from "./trustStore.js";
import { verifyCredentialTexts } from "./verifyCredentialTexts.js";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

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
  return verifyCredentialTexts(inputs.map(inputText), trust, now, verifyDcc);
}

function inputText(input: string | Uint8Array): string {
  if (typeof input === "string") return input;
  if (Buffer.from(input.subarray(0, 4)).equals(PNG_SIGNATURE)) return decodeQrPng(input);
  return Buffer.from(input).toString("utf8");
}
