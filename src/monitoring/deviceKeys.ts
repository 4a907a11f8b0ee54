/**
 * Device signatures: ECDSA over P-256 with SHA-256 (FIPS 186-5; JWS "ES256", RFC 7518 §3.4), the
 * signature as the 64-byte r‖s. P-256 rather than the ledger's secp256k1 because a device is not
 * a ledger account: P-256 is what device secure elements, TPM 2.0, Android Keystore, Apple's
 * Secure Enclave and WebAuthn authenticators hold keys in, and Node verifies it in OpenSSL (tens of
 * microseconds; a pure-JavaScript secp256k1 verification costs several times that).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";

/** A P-256 public key as a JSON Web Key. */
export const publicJwk = z.strictObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "expected 32 bytes, base64url"),
  y: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "expected 32 bytes, base64url"),
});
export type PublicJwk = z.infer<typeof publicJwk>;

export interface DeviceKeyPair {
  publicJwk: PublicJwk;
  /** PKCS#8 PEM; stays on the device. */
  privatePem: string;
}

/** A fresh P-256 key pair for a device (the simulator, tests and `monitor device add --generate`). */
export function generateDeviceKey(): DeviceKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  return {
    publicJwk: { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" },
    privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
}

/** The device's public key, checked to lie on the curve (OpenSSL refuses a point that does not). */
export function importPublicJwk(jwk: PublicJwk): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch (cause) {
    throw new BaseError("invalid", "publicKey is not a P-256 point", { cause, expression: "publicKey" });
  }
}

/** A device's signer over payload bytes: base64url of the 64-byte r‖s. */
export function deviceSigner(privatePem: string): (payload: Uint8Array) => string {
  const key = createPrivateKey(privatePem);
  return (payload) => sign("sha256", payload, { key, dsaEncoding: "ieee-p1363" }).toString("base64url");
}

/**
 * Whether `signature` (base64url r‖s) is the key's signature over `payload`, checked on libuv's
 * thread pool (Node's `crypto.verify` with a callback): the ingest path's verification runs beside
 * the event loop instead of on it.
 */
export function verifyDeviceSignatureOffThread(
  key: KeyObject,
  payload: Uint8Array,
  signature: string,
): Promise<boolean> {
  const bytes = Buffer.from(signature, "base64url");
  if (bytes.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify("sha256", payload, { key, dsaEncoding: "ieee-p1363" }, bytes, (error, ok) =>
        resolve(error === null && ok),
      );
    } catch {
      resolve(false);
    }
  });
}
