/**
 * The numeric QR form of a SMART Health Card (`shc:/…`): each base64url character of the JWS
 * becomes two digits (char code − 45), so the whole payload fits QR numeric mode. A JWS longer
 * than one QR holds is split into `shc:/<i>/<n>/…` chunks of balanced size.
 * https://spec.smarthealth.cards/#encoding-chunks-as-qr-codes
 */
import { PassportFormatError } from "./passportReport.js";

/** Longest JWS that still fits one version-22 QR code at error correction L (the spec's limit). */
export const SINGLE_QR_JWS_LIMIT = 1195;
const CHUNK_JWS_LIMIT = 1191;
const SMALLEST_CHAR = 45; // "-"
const LARGEST_PAIR = 77; // "z" (122) − 45

/**
 * Decodes one or more `shc:/` lines (a single card or all chunks of one card) into the JWS.
 * @param text - `shc:/digits` or `shc:/i/n/digits` lines, separated by whitespace
 * @returns the compact JWS
 */
export function decodeShcUri(text: string): string {
  const lines = text
    .split(/\s+/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (lines.length === 0) throw new PassportFormatError("malformed_shc_uri", "shc URI: empty");
  const parts = lines.map(parseLine);
  const first = parts[0];
  if (first === undefined) throw new PassportFormatError("malformed_shc_uri", "shc URI: empty");
  if (first.total === 1) {
    if (parts.length !== 1)
      throw new PassportFormatError("malformed_shc_uri", "shc URI: several cards where one was expected");
    return digitsToJws(first.digits);
  }
  const byIndex = new Map<number, string>();
  for (const part of parts) {
    if (part.total !== first.total)
      throw new PassportFormatError("malformed_shc_uri", "shc URI: chunks disagree on their count");
    if (byIndex.has(part.index))
      throw new PassportFormatError("malformed_shc_uri", "shc URI: chunk given twice");
    byIndex.set(part.index, part.digits);
  }
  let digits = "";
  for (let i = 1; i <= first.total; i++) {
    const chunk = byIndex.get(i);
    if (chunk === undefined)
      throw new PassportFormatError("malformed_shc_uri", "shc URI: a chunk is missing");
    digits += chunk;
  }
  return digitsToJws(digits);
}

interface ShcLine {
  index: number;
  total: number;
  digits: string;
}

function parseLine(line: string): ShcLine {
  const match = /^shc:\/(?:(\d+)\/(\d+)\/)?(.*)$/i.exec(line);
  if (match === null) throw new PassportFormatError("malformed_shc_uri", "shc URI: must start with shc:/");
  const digits = match[3] ?? "";
  if (!/^\d*$/.test(digits))
    throw new PassportFormatError("malformed_shc_uri", "shc URI: numeric section holds a non-digit");
  if (match[1] === undefined || match[2] === undefined) return { index: 1, total: 1, digits };
  const index = Number(match[1]);
  const total = Number(match[2]);
  if (total < 1 || index < 1 || index > total)
    throw new PassportFormatError("malformed_shc_uri", "shc URI: chunk index out of range");
  return { index, total, digits };
}

function digitsToJws(digits: string): string {
  if (digits.length === 0)
    throw new PassportFormatError("malformed_shc_uri", "shc URI: numeric section is empty");
  if (digits.length % 2 !== 0)
    throw new PassportFormatError("malformed_shc_uri", "shc URI: odd number of digits");
  let jws = "";
  for (let i = 0; i < digits.length; i += 2) {
    const pair = (digits.charCodeAt(i) - 48) * 10 + (digits.charCodeAt(i + 1) - 48);
    if (pair > LARGEST_PAIR)
      throw new PassportFormatError("malformed_shc_uri", "shc URI: digit pair out of range 00..77");
    jws += String.fromCharCode(pair + SMALLEST_CHAR);
  }
  return jws;
}

function jwsToDigits(jws: string): string {
  let digits = "";
  for (let i = 0; i < jws.length; i++) {
    const pair = jws.charCodeAt(i) - SMALLEST_CHAR;
    if (pair < 0 || pair > LARGEST_PAIR)
      throw new PassportFormatError("malformed_shc_uri", "JWS: character outside base64url and '.'");
    digits += pair < 10 ? `0${pair}` : String(pair);
  }
  return digits;
}

/**
 * Encodes a JWS as `shc:/` QR payloads: one when it fits, else balanced chunks.
 * @param jws - compact JWS
 * @returns one `shc:/…` string per QR code
 */
export function encodeShcUris(jws: string): string[] {
  if (jws.length <= SINGLE_QR_JWS_LIMIT) return [`shc:/${jwsToDigits(jws)}`];
  const total = Math.ceil(jws.length / CHUNK_JWS_LIMIT);
  const size = Math.ceil(jws.length / total);
  const uris: string[] = [];
  for (let i = 0; i < total; i++) {
    uris.push(`shc:/${i + 1}/${total}/${jwsToDigits(jws.slice(i * size, (i + 1) * size))}`);
  }
  return uris;
}
