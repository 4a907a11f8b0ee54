/**
 * The OAuth 2 model @node-oauth/oauth2-server asks for (clients, authorization codes, access and
 * refresh tokens), kept in the node's database through Kysely so every API process sharing it sees
 * the same grants, on SQLite and PostgreSQL. Codes, tokens and client secrets are random values of
 * 256 bits and are stored as their SHA-256 only: a copy of the database redeems nothing.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type OAuth2Server from "@node-oauth/oauth2-server";
import type { Insertable } from "kysely";
import type { Address, Hex } from "viem";
import { resolveRoles } from "../access/resolvePrincipal.js";
import type { PractitionerRole } from "../model/vocabulary.js";
import type { Store } from "../store/database.js";
import type { SmartTokenTable } from "../store/roomSchema.js";
import { CONTEXT_SCOPES, parseResourceScope, splitScope } from "./scopes.js";

/** The user an app acts for: who approved it, and the launch patient of its `patient/` scopes. */
export interface SmartUser {
  account: Address;
  kind: "patient" | "practitioner";
  organization?: Hex;
  role?: PractitionerRole;
  /** The FHIR Patient id `patient/` scopes are bound to. */
  patient?: string;
  /** The grant (one approval) every code and token issued from it belongs to. */
  grantId: string;
}

/** A registered app, as the OAuth library sees it. */
export interface SmartClient extends OAuth2Server.Client {
  id: string;
  name: string;
  confidential: boolean;
  redirectUris: string[];
  grants: string[];
  /** The scopes the app may ask for. */
  scopes: string[];
}

/** Refresh tokens of `online_access` live this long; `offline_access` ones `refreshTokenSeconds`. */
const ONLINE_REFRESH_MS = 8 * 3600_000;

/** SHA-256 hex: how codes, tokens and secrets are looked up and stored. */
export function digest(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/** A fresh 256-bit secret, base64url, with a prefix naming what it is. */
export function secretValue(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** Whether a registered scope covers a requested one (the same scope, or a narrower resource scope). */
export function covers(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const want = parseResourceScope(requested);
  if (want === undefined) return false;
  return registered.some((r) => {
    const has = parseResourceScope(r);
    return (
      has !== undefined &&
      has.context === want.context &&
      (has.type === "*" || has.type === want.type) &&
      [...want.interactions].every((i) => has.interactions.has(i))
    );
  });
}

export interface SmartStoreOptions {
  store: Store;
  refreshTokenSeconds: number;
  now?: () => number;
}

/** The OAuth 2 model of the SMART authorization server over the node's database. */
export class SmartStore implements OAuth2Server.AuthorizationCodeModel, OAuth2Server.RefreshTokenModel {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #refreshMs: number;

  constructor(options: SmartStoreOptions) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#refreshMs = options.refreshTokenSeconds * 1000;
  }

  get #db() {
    return this.#store.db;
  }

  /** Registers an app; returns its client id, and its secret when it is confidential. */
  async register(input: {
    name: string;
    confidential: boolean;
    redirectUris: string[];
    scope: string;
  }): Promise<{ clientId: string; clientSecret?: string }> {
    const clientId = randomUUID();
    const clientSecret = input.confidential ? secretValue("smcs") : undefined;
    await this.#db
      .insertInto("smart_clients")
      .values({
        client_id: clientId,
        name: input.name,
        confidential: input.confidential ? 1 : 0,
        secret_hash: clientSecret === undefined ? null : digest(clientSecret),
        redirect_uris: JSON.stringify(input.redirectUris),
        scope: splitScope(input.scope).join(" "),
        created_at: this.#now(),
      })
      .execute();
    return clientSecret === undefined ? { clientId } : { clientId, clientSecret };
  }

  /** The registered app, without checking any secret. */
  async client(clientId: string): Promise<SmartClient | undefined> {
    const row = await this.#db
      .selectFrom("smart_clients")
      .selectAll()
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      id: row.client_id,
      name: row.name,
      confidential: Number(row.confidential) === 1,
      redirectUris: JSON.parse(row.redirect_uris) as string[],
      grants: ["authorization_code", "refresh_token"],
      scopes: splitScope(row.scope),
    };
  }

  /**
   * The app, checking its secret when one is given: a confidential client's must match, a public
   * client has none. Whether a confidential client had to give one is the caller's check
   * (src/smart/smartService.ts), since the library also asks without a secret at authorization.
   */
  async getClient(clientId: string, clientSecret: string | null | undefined): Promise<SmartClient | false> {
    const client = await this.client(clientId);
    if (client === undefined) return false;
    if (clientSecret === null || clientSecret === undefined || clientSecret === "") return client;
    if (!client.confidential) return false;
    const row = await this.#db
      .selectFrom("smart_clients")
      .select("secret_hash")
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    const stored = Buffer.from(row?.secret_hash ?? "", "hex");
    const given = Buffer.from(digest(clientSecret), "hex");
    return stored.length === given.length && timingSafeEqual(stored, given) ? client : false;
  }

  validateRedirectUri(redirectUri: string, client: OAuth2Server.Client): Promise<boolean> {
    // exact string comparison: no prefix, no normalization (RFC 6749 section 3.1.2.3, OAuth 2.1)
    return Promise.resolve((client.redirectUris ?? []).includes(redirectUri));
  }

  /**
   * What of the requested scopes is granted: scopes this server understands, that the app was
   * registered for, and that fit the user (`patient/` and `launch/patient` need a patient with a
   * Patient record). Falsy when nothing remains: the library answers `invalid_scope`.
   */
  validateScope(
    user: OAuth2Server.User,
    client: OAuth2Server.Client,
    scope?: string[],
  ): Promise<string[] | false> {
    const u = user as SmartUser;
    const registered = (client as SmartClient).scopes;
    const granted = splitScope(scope).filter((s) => {
      if (!covers(registered, s)) return false;
      if (CONTEXT_SCOPES.includes(s)) return s !== "launch/patient" || u.patient !== undefined;
      const parsed = parseResourceScope(s);
      if (parsed === undefined) return false;
      return parsed.context === "user" || u.patient !== undefined;
    });
    return Promise.resolve(granted.some((s) => parseResourceScope(s) !== undefined) ? granted : false);
  }

  generateAuthorizationCode(): Promise<string> {
    return Promise.resolve(secretValue("smac"));
  }

  generateAccessToken(): Promise<string> {
    return Promise.resolve(secretValue("smat"));
  }

  generateRefreshToken(): Promise<string> {
    return Promise.resolve(secretValue("smrt"));
  }

  async saveAuthorizationCode(
    code: Pick<
      OAuth2Server.AuthorizationCode,
      "authorizationCode" | "expiresAt" | "redirectUri" | "scope" | "codeChallenge" | "codeChallengeMethod"
    >,
    client: OAuth2Server.Client,
    user: OAuth2Server.User,
  ): Promise<OAuth2Server.AuthorizationCode> {
    const u = user as SmartUser;
    await this.#db
      .insertInto("smart_codes")
      .values({
        code_hash: digest(code.authorizationCode),
        client_id: client.id,
        grant_id: u.grantId,
        user_json: JSON.stringify(u),
        scope: splitScope(code.scope).join(" "),
        redirect_uri: code.redirectUri,
        code_challenge: code.codeChallenge ?? "",
        code_challenge_method: code.codeChallengeMethod ?? "",
        expires_at: code.expiresAt.getTime(),
        used_at: null,
      })
      .execute();
    await this.#db
      .deleteFrom("smart_codes")
      .where("expires_at", "<", this.#now() - 3600_000)
      .execute();
    return { ...code, client, user };
  }

  /**
   * The code, unless unknown or already redeemed. A second redemption is an attack or a leak
   * (RFC 6749 section 4.1.2): every token issued from the code's grant is revoked.
   */
  async getAuthorizationCode(authorizationCode: string): Promise<OAuth2Server.AuthorizationCode | false> {
    const row = await this.#db
      .selectFrom("smart_codes")
      .selectAll()
      .where("code_hash", "=", digest(authorizationCode))
      .executeTakeFirst();
    if (row === undefined) return false;
    if (row.used_at !== null) {
      await this.revokeGrant(row.grant_id);
      return false;
    }
    const client = await this.client(row.client_id);
    if (client === undefined) return false;
    return {
      authorizationCode,
      expiresAt: new Date(Number(row.expires_at)),
      redirectUri: row.redirect_uri,
      scope: splitScope(row.scope),
      client,
      user: JSON.parse(row.user_json) as SmartUser,
      ...(row.code_challenge === ""
        ? {}
        : { codeChallenge: row.code_challenge, codeChallengeMethod: row.code_challenge_method }),
    };
  }

  /** Marks the code redeemed; false when another request redeemed it first. */
  async revokeAuthorizationCode(code: OAuth2Server.AuthorizationCode): Promise<boolean> {
    const result = await this.#db
      .updateTable("smart_codes")
      .set({ used_at: this.#now() })
      .where("code_hash", "=", digest(code.authorizationCode))
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Stores the access token, and the refresh token when `offline_access` or `online_access` was
   * granted, and returns what the token response carries (`patient` with `launch/patient`).
   */
  async saveToken(
    token: OAuth2Server.Token,
    client: OAuth2Server.Client,
    user: OAuth2Server.User,
  ): Promise<OAuth2Server.Token> {
    const u = user as SmartUser;
    const scopes = splitScope(token.scope);
    const scope = scopes.join(" ");
    const now = this.#now();
    const accessExpires = token.accessTokenExpiresAt ?? new Date(now + 900_000);
    const refreshMs = scopes.includes("offline_access")
      ? this.#refreshMs
      : scopes.includes("online_access")
        ? Math.min(ONLINE_REFRESH_MS, this.#refreshMs)
        : undefined;
    const base = { client_id: client.id, grant_id: u.grantId, user_json: JSON.stringify(u), scope };
    const rows: Array<Insertable<SmartTokenTable>> = [
      {
        ...base,
        token_hash: digest(token.accessToken),
        kind: "access",
        issued_at: now,
        expires_at: accessExpires.getTime(),
        revoked_at: null,
      },
    ];
    const refresh =
      refreshMs !== undefined && token.refreshToken !== undefined
        ? { refreshToken: token.refreshToken, refreshTokenExpiresAt: new Date(now + refreshMs) }
        : undefined;
    if (refresh)
      rows.push({
        ...base,
        token_hash: digest(refresh.refreshToken),
        kind: "refresh",
        issued_at: now,
        expires_at: refresh.refreshTokenExpiresAt.getTime(),
        revoked_at: null,
      });
    await this.#db.insertInto("smart_tokens").values(rows).execute();
    await this.#db
      .deleteFrom("smart_tokens")
      .where("expires_at", "<", now - 24 * 3600_000)
      .execute();
    return {
      accessToken: token.accessToken,
      accessTokenExpiresAt: accessExpires,
      ...(refresh ?? {}),
      scope: scopes,
      client,
      user,
      ...(scopes.includes("launch/patient") && u.patient !== undefined ? { patient: u.patient } : {}),
    };
  }

  /** A live access token (not revoked, not expired), or false. */
  async getAccessToken(accessToken: string): Promise<OAuth2Server.Token | false> {
    const row = await this.#live(accessToken, "access");
    if (row === undefined) return false;
    const client = await this.client(row.client_id);
    if (client === undefined) return false;
    return {
      accessToken,
      accessTokenExpiresAt: new Date(Number(row.expires_at)),
      scope: splitScope(row.scope),
      client,
      user: JSON.parse(row.user_json) as SmartUser,
    };
  }

  /**
   * A live refresh token, or false. The user must still hold the role the grant was approved in
   * (a practitioner who left the organization refreshes nothing).
   */
  async getRefreshToken(refreshToken: string): Promise<OAuth2Server.RefreshToken | false> {
    const row = await this.#live(refreshToken, "refresh");
    if (row === undefined) return false;
    const client = await this.client(row.client_id);
    if (client === undefined) return false;
    const user = JSON.parse(row.user_json) as SmartUser;
    if (user.kind === "practitioner") {
      const roles = await resolveRoles(this.#db, user.account);
      const holds = roles.some(
        (r) => r.kind === "practitioner" && r.organization === user.organization && r.role === user.role,
      );
      if (!holds) return false;
    }
    return {
      refreshToken,
      refreshTokenExpiresAt: new Date(Number(row.expires_at)),
      scope: splitScope(row.scope),
      client,
      user,
    };
  }

  /** Revokes one refresh token (at rotation); false when it was revoked already. */
  async revokeToken(token: OAuth2Server.RefreshToken | OAuth2Server.Token): Promise<boolean> {
    const value = (token as OAuth2Server.RefreshToken).refreshToken;
    const result = await this.#db
      .updateTable("smart_tokens")
      .set({ revoked_at: this.#now() })
      .where("token_hash", "=", digest(value))
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Revokes every token of one grant (a replayed code, a revoked refresh token). */
  async revokeGrant(grantId: string): Promise<void> {
    await this.#db
      .updateTable("smart_tokens")
      .set({ revoked_at: this.#now() })
      .where("grant_id", "=", grantId)
      .where("revoked_at", "is", null)
      .execute();
  }

  /** The stored row of a token, whatever its state (revocation and introspection). */
  async row(token: string) {
    return this.#db
      .selectFrom("smart_tokens")
      .selectAll()
      .where("token_hash", "=", digest(token))
      .executeTakeFirst();
  }

  /** Revokes one access token. */
  async revokeAccess(token: string): Promise<void> {
    await this.#db
      .updateTable("smart_tokens")
      .set({ revoked_at: this.#now() })
      .where("token_hash", "=", digest(token))
      .where("kind", "=", "access")
      .where("revoked_at", "is", null)
      .execute();
  }

  async #live(token: string, kind: "access" | "refresh") {
    const row = await this.row(token);
    if (row === undefined || row.kind !== kind || row.revoked_at !== null) return undefined;
    if (Number(row.expires_at) <= this.#now()) return undefined;
    return row;
  }
}
