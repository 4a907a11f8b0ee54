/**
 * The browser's verification primitives, synchronous like the node's so that the very same
 * verifier code (src/passport/shcVerifier.ts and friends) runs here: P-256 from @noble/curves
 * (audited, pure JavaScript; WebCrypto's verify is asynchronous), SHA-256 from @noble/hashes, raw
 * DEFLATE from pako (DecompressionStream is asynchronous).
 */
// the node's typecheck reaches this file from test/browser/passportCrypto.test.ts, outside web/src
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./pako.d.ts" />
import { p256 } from "@noble/curves/p256";
import { sha256 } from "@noble/hashes/sha256";
import { Inflate } from "pako";
import { base64urlBytes, type PassportCrypto } from "../../../src/passport/passportCrypto.js";

const points = new Map<string, Uint8Array>();

/** The uncompressed SEC1 point of a key (0x04 ‖ x ‖ y), built once per key. */
function pointOf(key: { x: string; y: string }): Uint8Array {
  const cacheKey = `${key.x}.${key.y}`;
  let point = points.get(cacheKey);
  if (point === undefined) {
    point = new Uint8Array(65);
    point[0] = 4;
    point.set(base64urlBytes(key.x), 1);
    point.set(base64urlBytes(key.y), 33);
    points.set(cacheKey, point);
  }
  return point;
}

export const browserCrypto: PassportCrypto = {
  sha256: (bytes) => sha256(bytes),
  verifyEs256: (key, data, signature) => {
    try {
      return p256.verify(signature, data, pointOf(key), { prehash: true, lowS: false, format: "compact" });
    } catch {
      // not a point of the curve, or not a signature at all
      return false;
    }
  },
  inflateRaw: (bytes, maxBytes) => {
    const inflater = new Inflate({ raw: true, chunkSize: 16_384 });
    const chunks: Uint8Array[] = [];
    let total = 0;
    inflater.onData = (chunk) => {
      total += chunk.length;
      if (total > maxBytes) throw new Error("inflated payload too large");
      chunks.push(chunk);
    };
    inflater.push(bytes, true);
    if (inflater.err !== 0 || !inflater.ended) throw new Error(inflater.msg || "truncated DEFLATE stream");
    const out = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  },
};
