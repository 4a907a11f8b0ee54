/**
 * The node's verification primitives (OpenSSL through node:crypto, zlib): fast, and what the CLI,
 * the HTTP routes and the benchmark verify with. The browser has its own (web/src/passport).
 */
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import type { PassportCrypto } from "./passportCrypto.js";

const keyObjects = new Map<string, KeyObject>();

/** A KeyObject for a public P-256 key, built once per key and reused by every verification. */
function verificationKey(key: { x: string; y: string }): KeyObject {
  const cacheKey = `${key.x}.${key.y}`;
  let object = keyObjects.get(cacheKey);
  if (object === undefined) {
    object = createPublicKey({ key: { kty: "EC", crv: "P-256", x: key.x, y: key.y }, format: "jwk" });
    keyObjects.set(cacheKey, object);
  }
  return object;
}

export const nodeCrypto: PassportCrypto = {
  sha256: (bytes) => createHash("sha256").update(bytes).digest(),
  verifyEs256: (key, data, signature) => {
    let object: KeyObject;
    try {
      object = verificationKey(key);
    } catch {
      return false;
    }
    return verify("sha256", data, { key: object, dsaEncoding: "ieee-p1363" }, signature);
  },
  inflateRaw: (bytes, maxBytes) => inflateRawSync(bytes, { maxOutputLength: maxBytes }),
};
