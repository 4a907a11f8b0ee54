/**
 * The few primitives SMART Health Card verification needs from its platform: SHA-256, ES256
 * (P-256, raw R‖S) verification and raw DEFLATE. The verifier's own logic (shcVerifier,
 * shcNumeric, shcContent, trustStore, ledgerCache, verifyCredentialTexts) is plain TypeScript over
 * this interface, so the node (src/passport/nodeCrypto.ts: OpenSSL and zlib) and the browser
 * (web/src/passport/browserCrypto.ts: @noble/curves and pako) run the very same checks.
 */

export interface PassportCrypto {
  sha256(bytes: Uint8Array): Uint8Array;
  /**
   * True when `signature` (64 bytes, R‖S) is an ES256 signature of `data` by the P-256 key (x, y).
   * False for a key that is not a point of the curve.
   */
  verifyEs256(key: { x: string; y: string }, data: Uint8Array, signature: Uint8Array): boolean;
  /** Inflates raw DEFLATE (RFC 1951); throws when the bytes are not, or inflate past `maxBytes`. */
  inflateRaw(bytes: Uint8Array, maxBytes: number): Uint8Array;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const VALUES = new Map([...ALPHABET].map((char, i) => [char, i]));

/** Bytes of unpadded base64url text (the caller checked the alphabet); trailing bits dropped. */
export function base64urlBytes(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const char of text) {
    value = (value << 6) | (VALUES.get(char) ?? 0);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Unpadded base64url of bytes. */
export function base64url(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 1 >= bytes.length ? 2 : i + 2 >= bytes.length ? 3 : 4;
    for (let c = 0; c < chars; c++) text += ALPHABET[(n >> (18 - 6 * c)) & 63];
  }
  return text;
}

/** Padded standard base64 of bytes. */
export function base64(bytes: Uint8Array): string {
  const text = base64url(bytes).replaceAll("-", "+").replaceAll("_", "/");
  return text + "=".repeat((4 - (text.length % 4)) % 4);
}

const encoder = new TextEncoder();
/** UTF-8 bytes of text. */
export const utf8Bytes = (text: string): Uint8Array => encoder.encode(text);
/** Text of UTF-8 bytes (invalid sequences become U+FFFD, as Buffer#toString does). */
export const utf8Text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
