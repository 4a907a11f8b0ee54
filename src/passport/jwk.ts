/**
 * Issuer JWKs on the node: the thumbprint with node's SHA-256, and the public part of a key the
 * node made. The schema and the thumbprint rule themselves are in issuerJwk.ts (shared with the
 * browser).
 */
import { nodeCrypto } from "./nodeCrypto.js";
import { thumbprintOf, type IssuerJwk } from "./issuerJwk.js";

export { issuerJwkSchema, type IssuerJwk } from "./issuerJwk.js";

/**
 * RFC 7638 JWK thumbprint of an EC key (SHA-256 over the required members in lexical order).
 * @param jwk - key with crv, x, y
 * @returns base64url thumbprint, the key's `kid`
 */
export function jwkThumbprint(jwk: { crv: string; x: string; y: string }): string {
  return thumbprintOf(jwk, nodeCrypto.sha256);
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
