/**
 * The CDS clients (EHRs) this node trusts and the check of their JWTs, as CDS Hooks 2.0 "Trusting
 * CDS Clients" describes (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients): every service call
 * carries `Authorization: Bearer <JWT>` signed with the client's private key; the node knows the
 * client's public JWK Set out of band (registered by the operator: `carechain cds client add`), so
 * a `jku` header is never fetched (no request goes to a URL a caller chose). The JWT must name
 * this service endpoint as `aud`, be short-lived, use an asymmetric algorithm, and carry a `jti`
 * not seen before (kept in the database until the JWT expires, so every API process refuses a
 * replay).
 */
import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JSONWebKeySet } from "jose";
import type { Kysely } from "kysely";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import type { Dialect } from "../store/database.js";
import type { Schema } from "../store/schema.js";
import { isUniqueViolation } from "../store/uniqueViolation.js";

/** Asymmetric JWS algorithms accepted (the spec forbids `none` and symmetric ones). */
export const CDS_JWT_ALGORITHMS = [
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
];

/** Longest JWT lifetime accepted (exp - iat), and the clock skew allowed. */
const MAX_LIFETIME_S = 300;
const SKEW_S = 60;

const jwksSchema = z.object({
  keys: z
    .array(
      z
        .object({ kty: z.enum(["EC", "RSA", "OKP"]), kid: z.string().min(1).max(200) })
        .passthrough()
        .refine((k) => !("d" in k) && !("p" in k) && !("q" in k), "a JWK Set of public keys only"),
    )
    .min(1)
    .max(20),
});

export interface CdsClient {
  iss: string;
  name: string;
  keys: number;
  createdAt: string;
}

/** Who called: the registered client whose JWT checked out. */
export interface CdsCaller {
  iss: string;
  name: string;
}

const unauthenticated = (message: string) => new BaseError("unauthenticated", message);

export class CdsClientRegistry {
  readonly #db: Kysely<Schema>;
  readonly #dialect: Dialect;
  readonly #now: () => number;

  constructor(db: Kysely<Schema>, dialect: Dialect, now: () => number = Date.now) {
    this.#db = db;
    this.#dialect = dialect;
    this.#now = now;
  }

  /**
   * Trusts a CDS client (or replaces its keys).
   * @param iss - The JWT issuer URI the client signs with.
   * @param name - A name for the operator's lists.
   * @param jwks - The client's public JWK Set (JSON).
   */
  async add(iss: string, name: string, jwks: unknown): Promise<CdsClient> {
    if (!z.url().safeParse(iss).success && !/^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$/i.test(iss))
      throw new BaseError("invalid", "the issuer must be a URI", { expression: "iss" });
    const parsed = jwksSchema.safeParse(jwks);
    if (!parsed.success)
      throw new BaseError("invalid", "the JWK Set must hold 1-20 public keys, each with kty and kid", {
        expression: "jwks",
      });
    const row = { iss, name, jwks: JSON.stringify(parsed.data), created_at: this.#now() };
    await this.#db
      .insertInto("cds_clients")
      .values(row)
      .onConflict((oc) => oc.column("iss").doUpdateSet({ name, jwks: row.jwks }))
      .execute();
    return { iss, name, keys: parsed.data.keys.length, createdAt: new Date(row.created_at).toISOString() };
  }

  /** The trusted clients. */
  async list(): Promise<CdsClient[]> {
    const rows = await this.#db.selectFrom("cds_clients").selectAll().orderBy("iss").execute();
    return rows.map((r) => ({
      iss: r.iss,
      name: r.name,
      keys: (JSON.parse(r.jwks) as JSONWebKeySet).keys.length,
      createdAt: new Date(Number(r.created_at)).toISOString(),
    }));
  }

  /**
   * Stops trusting a client.
   * @returns whether it was trusted
   */
  async remove(iss: string): Promise<boolean> {
    const result = await this.#db.deleteFrom("cds_clients").where("iss", "=", iss).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Verifies a CDS client's JWT for one endpoint (401 on anything wrong, naming the rule only).
   * @param authorization - The request's Authorization header.
   * @param audience - The endpoint URL the JWT must name.
   */
  async verify(authorization: string | undefined, audience: string): Promise<CdsCaller> {
    if (authorization === undefined || !authorization.startsWith("Bearer "))
      throw unauthenticated("CDS clients authenticate with Authorization: Bearer <JWT> (CDS Hooks 2.0)");
    const token = authorization.slice(7).trim();
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw unauthenticated("the CDS client JWT is not a JWT");
    }
    const row =
      typeof iss === "string"
        ? await this.#db.selectFrom("cds_clients").selectAll().where("iss", "=", iss).executeTakeFirst()
        : undefined;
    if (row === undefined) throw unauthenticated("the CDS client JWT's issuer is not trusted by this node");
    let payload;
    try {
      const keys = createLocalJWKSet(JSON.parse(row.jwks) as JSONWebKeySet);
      ({ payload } = await jwtVerify(token, keys, {
        issuer: row.iss,
        audience,
        algorithms: CDS_JWT_ALGORITHMS,
        typ: "JWT",
        clockTolerance: SKEW_S,
        currentDate: new Date(this.#now()),
        requiredClaims: ["exp", "iat", "jti"],
      }));
    } catch (error) {
      throw unauthenticated(`the CDS client JWT was refused: ${joseReason(error)}`);
    }
    const { exp, iat, jti } = payload as { exp: number; iat: number; jti: unknown };
    if (typeof jti !== "string" || jti.length === 0 || jti.length > 200)
      throw unauthenticated("the CDS client JWT was refused: jti must be a string of 1-200 characters");
    if (exp - iat > MAX_LIFETIME_S)
      throw unauthenticated(`the CDS client JWT was refused: it may live at most ${MAX_LIFETIME_S} s`);
    await this.#rememberJwtId(`${row.iss} ${jti}`, exp * 1000 + SKEW_S * 1000);
    return { iss: row.iss, name: row.name };
  }

  async #rememberJwtId(key: string, expiresAt: number): Promise<void> {
    const now = this.#now();
    if (Math.random() < 0.02)
      await this.#db.deleteFrom("cds_jwt_ids").where("expires_at", "<", now).execute();
    try {
      await this.#db.insertInto("cds_jwt_ids").values({ key, expires_at: expiresAt }).execute();
    } catch (error) {
      if (!isUniqueViolation(this.#dialect, error)) throw error;
      const seen = await this.#db
        .selectFrom("cds_jwt_ids")
        .select("expires_at")
        .where("key", "=", key)
        .executeTakeFirst();
      if (seen !== undefined && Number(seen.expires_at) >= now)
        throw unauthenticated("the CDS client JWT was refused: its jti was already used");
      await this.#db
        .updateTable("cds_jwt_ids")
        .set({ expires_at: expiresAt })
        .where("key", "=", key)
        .execute();
    }
  }
}

/** A short reason from jose's error, naming the claim or check, never the token. */
function joseReason(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim ${error.claim} (${error.reason})`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "bad signature";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "no registered key matches its kid and alg";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm not allowed (asymmetric only)";
  if (error instanceof joseErrors.JOSEError) return error.code;
  return "malformed";
}
