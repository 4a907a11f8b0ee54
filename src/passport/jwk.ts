/**
 * Public JWKs of SMART Health Card issuers: ES256 over P-256, `kid` the RFC 7638 thumbprint.
 * https://spec.smarthealth.cards/#determining-keys-associated-with-an-issuer
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { z } from "zod";

/** A P-256 public signing key as an issuer publishes it (private parts are refused). */
export const issuerJwkSchema = z
  .object({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    kid: z.string().min(1),
    use: z.literal("sig").optional(),
    alg: z.literal("ES256").optional(),
    crlVersion: z.number().int().nonnegative().optional(),
    x5c: z.array(z.string()).optional(),
  })
  .loose()
  .refine((jwk) => !("d" in jwk), { message: "a published key must not hold the private part d" });
export type IssuerJwk = z.infer<typeof issuerJwkSchema>;

/**
 * RFC 7638 JWK thumbprint of an EC key (SHA-256 over the required members in lexical order).
 * @param jwk - key with crv, x, y
 * @returns base64url thumbprint, the key's `kid`
 */
export function jwkThumbprint(jwk: { crv: string; x: string; y: string }): string {
  const canonical = `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash("sha256").update(canonical).digest("base64url");
}

/**
 * The public part of a JWK as issuers publish it: kty, crv, x, y, kid, use, alg.
 * @param jwk - public or private EC JWK
 */
export function publicJwk(jwk: {
  crv?: string | undefined;
  x?: string | undefined;
  y?: string | undefined;
}): IssuerJwk {
  if (jwk.crv !== "P-256" || jwk.x === undefined || jwk.y === undefined) {
    throw new TypeError("issuer key must be a P-256 EC key");
  }
  const key = { kty: "EC" as const, crv: "P-256" as const, x: jwk.x, y: jwk.y };
  return { ...key, kid: jwkThumbprint(key), use: "sig", alg: "ES256" };
}

const keyObjects = new Map<string, KeyObject>();

/** A node KeyObject for a public JWK, built once per key and reused by every verification. */
export function verificationKey(jwk: IssuerJwk): KeyObject {
  const cacheKey = `${jwk.x}.${jwk.y}`;
  let key = keyObjects.get(cacheKey);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, format: "jwk" });
    keyObjects.set(cacheKey, key);
  }
  return key;
}
