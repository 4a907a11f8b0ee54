/**
 * This node's SMART Health Card signing keys: P-256 pairs made here, the private half stored only
 * wrapped by the node's key provider (context `passport-issuer-key:<kid>`), unwrapped to sign.
 */
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { Kysely } from "kysely";
import type { KeyProvider } from "../crypto/keyProvider.js";
import { BaseError } from "../errors/BaseError.js";
import type { Schema } from "../store/schema.js";
import { publicJwk, type IssuerJwk } from "./jwk.js";

const wrapContext = (kid: string): string => `passport-issuer-key:${kid}`;

export interface SigningKey {
  jwk: IssuerJwk;
  privateKey: KeyObject;
}

export class IssuerKeys {
  readonly #db: Kysely<Schema>;
  readonly #provider: KeyProvider;
  readonly #unwrapped = new Map<string, KeyObject>();

  constructor(db: Kysely<Schema>, provider: KeyProvider) {
    this.#db = db;
    this.#provider = provider;
  }

  /**
   * Makes a new key pair and stores it (private half wrapped) as active.
   * @returns the public JWK, its `kid` the RFC 7638 thumbprint
   */
  async create(): Promise<IssuerJwk> {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicJwk(publicKey.export({ format: "jwk" }));
    const der = privateKey.export({ format: "der", type: "pkcs8" });
    const wrapped = await this.#provider.wrap(der, wrapContext(jwk.kid));
    der.fill(0);
    await this.#db
      .insertInto("passport_issuer_keys")
      .values({
        kid: jwk.kid,
        public_jwk: JSON.stringify(jwk),
        wrapped_private_key: wrapped,
        provider_id: this.#provider.id,
        status: "active",
        created_at: Date.now(),
      })
      .execute();
    return jwk;
  }

  /** Marks a key retired (rotation) or revoked; a revoked key never signs again. */
  async setStatus(kid: string, status: "retired" | "revoked"): Promise<void> {
    await this.#db.updateTable("passport_issuer_keys").set({ status }).where("kid", "=", kid).execute();
    this.#unwrapped.delete(kid);
  }

  /** Every key of this node with its status, oldest first. */
  async list(): Promise<Array<{ jwk: IssuerJwk; status: string }>> {
    const rows = await this.#db
      .selectFrom("passport_issuer_keys")
      .select(["public_jwk", "status"])
      .orderBy("created_at")
      .execute();
    return rows.map((row) => ({ jwk: JSON.parse(row.public_jwk) as IssuerJwk, status: row.status }));
  }

  /** The newest active key, ready to sign; `not-found` when this node has none. */
  async active(): Promise<SigningKey> {
    const row = await this.#db
      .selectFrom("passport_issuer_keys")
      .selectAll()
      .where("status", "=", "active")
      .orderBy("created_at", "desc")
      .limit(1)
      .executeTakeFirst();
    if (row === undefined) {
      throw new BaseError("not-found", "this node has no active health card issuer key", {
        details: "the operator runs carechain passport issuer register",
      });
    }
    const jwk = JSON.parse(row.public_jwk) as IssuerJwk;
    let privateKey = this.#unwrapped.get(jwk.kid);
    if (privateKey === undefined) {
      const der = await this.#provider.unwrap(row.wrapped_private_key, wrapContext(jwk.kid));
      privateKey = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
      der.fill(0);
      this.#unwrapped.set(jwk.kid, privateKey);
    }
    return { jwk, privateKey };
  }
}

/**
 * Signs a compact JWS with ES256 (raw R||S signature, RFC 7518 section 3.4).
 * @param signingInput - `base64url(header).base64url(payload)`
 */
export function signEs256(signingInput: string, key: KeyObject): string {
  return sign("sha256", Buffer.from(signingInput, "ascii"), { key, dsaEncoding: "ieee-p1363" }).toString(
    "base64url",
  );
}
