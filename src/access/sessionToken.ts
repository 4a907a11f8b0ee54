/**
 * Session tokens: short-lived JWTs (RFC 7519) that the node signs with its own secp256k1 key
 * (JWS alg ES256K, RFC 8812) after a successful SIWE login, so any API process holding the node
 * key can check them without a session table.
 *
 * jose 6 runs on WebCrypto, which has no secp256k1, so signing and verifying use Node's OpenSSL
 * through `node:crypto` with the key as a JWK; the compact serialization is built here. Tokens
 * are standard ES256K: any JOSE library that supports the curve can verify them.
 */
import { createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import { getAddress, hexToBytes, isAddress, isHex, type Address, type Hex } from "viem";
import { privateKeyToAccount, publicKeyToAddress } from "viem/accounts";
import { z } from "zod";
import { PRACTITIONER_ROLES, type PractitionerRole } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import type { PrincipalKind } from "../model/principal.js";

export const SESSION_AUDIENCE = "carechain";
export const SESSION_ALG = "ES256K";
export const DEFAULT_SESSION_TTL_SECONDS = 900;
/** Longest session a token may grant. */
export const MAX_SESSION_TTL_SECONDS = 24 * 3600;
/** Tolerated clock difference between API processes, for `iat`. */
const CLOCK_SKEW_SECONDS = 60;
const MAX_TOKEN_LENGTH = 8192;
/** Order of the secp256k1 group; signatures are kept in low-s form so they are not malleable. */
const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A session is held by a person or a node, never by the node's internal jobs. */
export type SessionKind = Exclude<PrincipalKind, "system">;

/** A secp256k1 JWK (RFC 8812 section 3.1); `d` only in the private form. */
export interface Secp256k1Jwk {
  kty: "EC";
  crv: "secp256k1";
  x: string;
  y: string;
  d?: string;
  alg?: "ES256K";
  use?: "sig";
  /** The node's checksummed address. */
  kid?: string;
}

export interface SessionClaims {
  /** The issuing node's address. */
  iss: Address;
  /** The signed-in account, checksummed (EIP-55) as `verifySessionToken` returns it. */
  sub: Address;
  aud: typeof SESSION_AUDIENCE;
  iat: number;
  exp: number;
  jti: string;
  kind: SessionKind;
  organization?: Hex;
  role?: PractitionerRole;
}

export interface IssueSessionInput {
  sub: string;
  kind: SessionKind;
  organization?: Hex | undefined;
  role?: PractitionerRole | undefined;
  ttlSeconds?: number | undefined;
}

interface KeyMaterial {
  address: Address;
  publicJwk: Secp256k1Jwk;
  publicKey: KeyObject;
  privateKey?: KeyObject;
}

const fail = (message: string, cause?: unknown): BaseError =>
  new BaseError("unauthenticated", message, cause === undefined ? undefined : { cause });

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const bytes32 = z.custom<Hex>((v) => typeof v === "string" && BYTES32.test(v));
const address = z.string().refine((v) => isAddress(v, { strict: false }));
const claimsSchema = z.object({
  iss: address,
  sub: address,
  aud: z.literal(SESSION_AUDIENCE),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
  jti: z.string().min(1).max(64),
  kind: z.enum(["patient", "practitioner", "node"]),
  organization: bytes32.optional(),
  role: z.enum(PRACTITIONER_ROLES).optional(),
});
const headerSchema = z.object({ alg: z.string(), typ: z.string().optional(), crit: z.never().optional() });

// Deriving a public key costs a curve multiplication; a node uses one key, so remember a few.
const keyCache = new Map<string, KeyMaterial>();

function material(key: Hex | Secp256k1Jwk): KeyMaterial {
  const cacheKey = typeof key === "string" ? key.toLowerCase() : `${key.x}.${key.y}.${key.d ?? ""}`;
  const cached = keyCache.get(cacheKey);
  if (cached) return cached;
  let made: KeyMaterial;
  try {
    const jwk = typeof key === "string" ? nodePrivateJwk(key) : key;
    const { d, ...pub } = jwk;
    const point = Buffer.concat([
      Buffer.of(4),
      Buffer.from(pub.x, "base64url"),
      Buffer.from(pub.y, "base64url"),
    ]);
    const nodeAddress = publicKeyToAddress(`0x${point.toString("hex")}`);
    const publicKey = createPublicKey({
      key: { kty: "EC", crv: "secp256k1", x: pub.x, y: pub.y },
      format: "jwk",
    });
    made = {
      address: nodeAddress,
      publicJwk: { ...pub, alg: SESSION_ALG, use: "sig", kid: nodeAddress },
      publicKey,
    };
    if (d !== undefined) {
      made.privateKey = createPrivateKey({
        key: { kty: "EC", crv: "secp256k1", x: pub.x, y: pub.y, d },
        format: "jwk",
      });
    }
  } catch (cause) {
    throw new BaseError("config", "node key is not a valid secp256k1 key", { cause });
  }
  if (keyCache.size >= 8) keyCache.clear();
  keyCache.set(cacheKey, made);
  return made;
}

/**
 * The node's 0x private key as a private JWK (kty EC, crv secp256k1, d, x, y).
 * @param nodeKey - 32-byte private key, 0x hex.
 * @see https://www.rfc-editor.org/rfc/rfc8812#section-3.1
 */
export function nodePrivateJwk(nodeKey: Hex): Secp256k1Jwk {
  if (!isHex(nodeKey) || nodeKey.length !== 66)
    throw new BaseError("config", "node key must be 32 bytes of 0x hex");
  const point = hexToBytes(privateKeyToAccount(nodeKey).publicKey);
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
  return {
    kty: "EC",
    crv: "secp256k1",
    d: b64(hexToBytes(nodeKey)),
    x: b64(point.slice(1, 33)),
    y: b64(point.slice(33)),
  };
}

/**
 * The node's public JWK, with `kid` = node address, for publishing (e.g. a JWKS) and for
 * verifying tokens without the private key.
 * @param nodeKey - The node's private key (0x hex) or any JWK of it.
 */
export function nodePublicJwk(nodeKey: Hex | Secp256k1Jwk): Secp256k1Jwk {
  return { ...material(nodeKey).publicJwk };
}

/**
 * Signs a session token for a signed-in account: iss = node address, aud "carechain", a random
 * jti, and the role the session acts in.
 * @param nodeKey - The node's private key (0x hex) or private JWK.
 * @param input - Subject, role and lifetime (default 900 s).
 * @param now - Issue time (tests).
 * @returns The compact JWS.
 * @see https://www.rfc-editor.org/rfc/rfc7519
 */
export function issueSessionToken(
  nodeKey: Hex | Secp256k1Jwk,
  input: IssueSessionInput,
  now: Date = new Date(),
): string {
  const key = material(nodeKey);
  if (!key.privateKey) throw new BaseError("config", "issuing a session token needs the node's private key");
  const ttl = input.ttlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_SESSION_TTL_SECONDS) {
    throw new BaseError("invalid", `session lifetime must be 1..${MAX_SESSION_TTL_SECONDS} seconds`);
  }
  if (!isAddress(input.sub, { strict: false }))
    throw new BaseError("invalid", "session subject is not an address");
  checkRoleShape(input.kind, input.organization, input.role);
  const iat = Math.floor(now.getTime() / 1000);
  const claims: SessionClaims = {
    iss: key.address,
    sub: getAddress(input.sub),
    aud: SESSION_AUDIENCE,
    iat,
    exp: iat + ttl,
    jti: randomUUID(),
    kind: input.kind,
    ...(input.organization === undefined ? {} : { organization: input.organization.toLowerCase() as Hex }),
    ...(input.role === undefined ? {} : { role: input.role }),
  };
  const signingInput = `${b64json({ alg: SESSION_ALG, typ: "JWT", kid: key.address })}.${b64json(claims)}`;
  const der = sign("sha256", Buffer.from(signingInput), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${signingInput}.${Buffer.from(toLowS(der)).toString("base64url")}`;
}

/**
 * Checks a session token: ES256K signature by this node's key (any other alg, `none` included,
 * is refused), issuer, audience, expiry, and the claim shapes.
 * @param nodeKey - The node's private key, or its public JWK.
 * @param token - The compact JWS from the `Authorization: Bearer` header.
 * @param now - Verification time (tests).
 * @returns The validated claims.
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
export function verifySessionToken(
  nodeKey: Hex | Secp256k1Jwk,
  token: string,
  now: Date = new Date(),
): SessionClaims {
  const key = material(nodeKey);
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) throw fail("session token malformed");
  const cacheKey = `${key.address}.${token}`;
  const cached = verifiedCache.get(cacheKey);
  if (cached !== undefined) {
    // Same bytes, same signature and claims: only the checks that depend on `now` are repeated.
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (cached.iat > nowSeconds + CLOCK_SKEW_SECONDS) throw fail("session token malformed");
    if (nowSeconds >= cached.exp) {
      verifiedCache.delete(cacheKey);
      throw fail("session token expired");
    }
    return { ...cached };
  }
  const claims = verifyUncached(key, token, now);
  if (verifiedCache.size >= VERIFIED_CACHE_SIZE) {
    // Oldest first (Map keeps insertion order): a bounded cache, whatever the number of sessions.
    const oldest = verifiedCache.keys().next();
    if (!oldest.done) verifiedCache.delete(oldest.value);
  }
  verifiedCache.set(cacheKey, claims);
  return { ...claims };
}

/**
 * Tokens whose signature and claims were verified, by node address and token string, so a
 * session's later requests skip the secp256k1 verification (the largest cost of an authorized
 * read). Entries are only ever successful verifications; expiry is checked on every hit.
 */
const verifiedCache = new Map<string, SessionClaims>();
const VERIFIED_CACHE_SIZE = 10_000;

function verifyUncached(key: KeyMaterial, token: string, now: Date): SessionClaims {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p)))
    throw fail("session token malformed");
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  const header = headerSchema.safeParse(parseJson(headerPart));
  if (!header.success) throw fail("session token malformed", header.error);
  if (header.data.alg !== SESSION_ALG) throw fail("session token signature invalid");
  const signature = Buffer.from(signaturePart, "base64url");
  if (signature.length !== 64 || BigInt(`0x${signature.subarray(32).toString("hex")}`) > CURVE_N / 2n) {
    throw fail("session token signature invalid");
  }
  const signed = Buffer.from(`${headerPart}.${payloadPart}`);
  if (!verify("sha256", signed, { key: key.publicKey, dsaEncoding: "ieee-p1363" }, signature)) {
    throw fail("session token signature invalid");
  }

  const parsed = claimsSchema.safeParse(parseJson(payloadPart));
  if (!parsed.success) throw fail("session token malformed", parsed.error);
  const c = parsed.data;
  if (getAddress(c.iss) !== key.address) throw fail("session token malformed");
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (c.iat > nowSeconds + CLOCK_SKEW_SECONDS || c.exp <= c.iat) throw fail("session token malformed");
  if (nowSeconds >= c.exp) throw fail("session token expired");
  try {
    checkRoleShape(c.kind, c.organization, c.role);
  } catch (cause) {
    throw fail("session token malformed", cause);
  }
  return {
    iss: key.address,
    sub: getAddress(c.sub),
    aud: c.aud,
    iat: c.iat,
    exp: c.exp,
    jti: c.jti,
    kind: c.kind,
    ...(c.organization === undefined ? {} : { organization: c.organization.toLowerCase() as Hex }),
    ...(c.role === undefined ? {} : { role: c.role }),
  };
}

/** Practitioners carry an organization and a role, nodes an organization, patients neither. */
function checkRoleShape(
  kind: SessionKind,
  organization: Hex | undefined,
  role: PractitionerRole | undefined,
): void {
  if (organization !== undefined && !BYTES32.test(organization)) {
    throw new BaseError("invalid", "organization must be a bytes32 id");
  }
  const ok =
    kind === "patient"
      ? organization === undefined && role === undefined
      : kind === "node"
        ? organization !== undefined && role === undefined
        : organization !== undefined && role !== undefined && PRACTITIONER_ROLES.includes(role);
  if (!ok) throw new BaseError("invalid", `a ${kind} session needs ${ROLE_SHAPE[kind]}`);
}

const ROLE_SHAPE: Record<SessionKind, string> = {
  patient: "no organization and no role",
  practitioner: "an organization and a role",
  node: "an organization and no role",
};

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function parseJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch (cause) {
    throw fail("session token malformed", cause);
  }
}

/** OpenSSL may return a high s; the equivalent (r, n - s) is the canonical one. */
function toLowS(signature: Buffer): Uint8Array {
  const s = BigInt(`0x${signature.subarray(32).toString("hex")}`);
  if (s <= CURVE_N / 2n) return signature;
  const low = Buffer.from((CURVE_N - s).toString(16).padStart(64, "0"), "hex");
  return Buffer.concat([signature.subarray(0, 32), low]);
}
