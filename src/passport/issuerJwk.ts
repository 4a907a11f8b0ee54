/**
 * Public JWKs of SMART Health Card issuers: ES256 over P-256, `kid` the RFC 7638 thumbprint.
 * Plain TypeScript: the node and the browser verifier both use it.
 * https://spec.smarthealth.cards/#determining-keys-associated-with-an-issuer
 */
import { z } from "zod";
import { base64url, utf8Bytes } from "./passportCrypto.js";

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
 * @param sha256 - the platform's SHA-256
 * @returns base64url thumbprint, the key's `kid`
 */
export function thumbprintOf(
  jwk: { crv: string; x: string; y: string },
  sha256: (bytes: Uint8Array) => Uint8Array,
): string {
  return base64url(sha256(utf8Bytes(`{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`)));
}
