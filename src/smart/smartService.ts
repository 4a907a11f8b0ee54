/**
 * The SMART App Launch 2.x authorization server of a node (docs/smart-on-fhir.md): standalone
 * launch with authorization code and PKCE S256, refresh tokens, revocation (RFC 7009) and
 * introspection (RFC 7662). The OAuth protocol (code, PKCE verification, token and refresh grants)
 * is @node-oauth/oauth2-server's; this file adds what SMART and carechain need around it: the
 * user is the one signed in with SIWE, scopes are granted only as far as the app is registered and
 * the user's kind allows, and an access token becomes the user's own Principal narrowed by scope.
 */
import { randomUUID } from "node:crypto";
import OAuth2Server from "@node-oauth/oauth2-server";
import { getAddress } from "viem";
import { parsePurpose } from "../access/resolvePrincipal.js";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { Store } from "../store/database.js";
import { accessScope, isKnownScope, splitScope } from "./scopes.js";
import { SmartStore, type SmartClient, type SmartUser } from "./smartStore.js";

export interface SmartServiceOptions {
  store: Store;
  /** The FHIR base URL apps name as `aud` (e.g. `https://clinic.example/fhir`). */
  fhirBaseUrl: string;
  accessTokenSeconds?: number;
  refreshTokenSeconds?: number;
  codeSeconds?: number;
  now?: () => number;
}

/** What an OAuth endpoint answers: a status, a JSON body and headers. */
export interface OAuthAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The parameters of an authorization request, as the app sent them. */
export type AuthorizeParams = Record<string, string | undefined>;

export interface ClientRegistration {
  name: string;
  confidential: boolean;
  redirectUris: string[];
  scope: string;
}

/** The checked authorization request, for the approval page. */
export interface AuthorizeRequest {
  client: { id: string; name: string; confidential: boolean };
  /** The requested scopes this server understands. */
  scopes: string[];
}

/** An OAuth error answered as RFC 6749 JSON (section 5.2). */
export class OAuthProtocolError extends BaseError {
  constructor(
    readonly error: string,
    description: string,
    readonly status = 400,
  ) {
    super(status === 401 ? "unauthenticated" : "invalid", description);
  }
}

export class SmartService {
  readonly store: SmartStore;
  readonly fhirBaseUrl: string;
  readonly #server: OAuth2Server;
  readonly #db: Store;
  readonly #now: () => number;

  constructor(options: SmartServiceOptions) {
    this.#db = options.store;
    this.#now = options.now ?? Date.now;
    this.fhirBaseUrl = options.fhirBaseUrl.replace(/\/+$/, "");
    this.store = new SmartStore({
      store: options.store,
      refreshTokenSeconds: options.refreshTokenSeconds ?? 30 * 24 * 3600,
      now: this.#now,
    });
    this.#server = new OAuth2Server({
      model: this.store,
      accessTokenLifetime: options.accessTokenSeconds ?? 900,
      refreshTokenLifetime: options.refreshTokenSeconds ?? 30 * 24 * 3600,
      authorizationCodeLifetime: options.codeSeconds ?? 60,
      allowExtendedTokenAttributes: true,
      allowEmptyState: false,
      alwaysIssueNewRefreshToken: true,
      // public clients prove possession with PKCE; confidential ones are checked in `token` below
      requireClientAuthentication: { authorization_code: false, refresh_token: false },
    });
  }

  /**
   * Registers an app (the operator's act). Redirect URIs are absolute https URLs, or http on the
   * loopback interface (RFC 8252 native apps); scopes must be ones this server understands.
   */
  async register(input: ClientRegistration): Promise<{ clientId: string; clientSecret?: string }> {
    if (input.redirectUris.length === 0)
      throw new BaseError("invalid", "an app needs at least one redirect URI", {
        expression: "redirectUris",
      });
    for (const uri of input.redirectUris) {
      let parsed: URL;
      try {
        parsed = new URL(uri);
      } catch {
        throw new BaseError("invalid", "redirect URI is not an absolute URL", { expression: "redirectUris" });
      }
      const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(parsed.hostname);
      if (parsed.hash !== "" || !(parsed.protocol === "https:" || (parsed.protocol === "http:" && loopback)))
        throw new BaseError(
          "invalid",
          "redirect URI must be https (http only on the loopback), without fragment",
          {
            expression: "redirectUris",
          },
        );
    }
    const scopes = splitScope(input.scope);
    if (scopes.length === 0 || !scopes.every(isKnownScope))
      throw new BaseError("invalid", "scope holds a scope this server does not support", {
        expression: "scope",
      });
    return this.store.register(input);
  }

  /**
   * Checks an authorization request before the user is asked: a known app, its exact redirect
   * URI, `aud` naming this server's FHIR base, response type `code`, a state, and PKCE S256.
   * Errors here are never redirected: the redirect URI is not trusted yet, or the app must learn.
   */
  async check(params: AuthorizeParams): Promise<AuthorizeRequest> {
    const client = params.client_id ? await this.store.client(params.client_id) : undefined;
    if (client === undefined) throw new OAuthProtocolError("invalid_client", "unknown client_id");
    if (params.redirect_uri === undefined || !client.redirectUris.includes(params.redirect_uri))
      throw new OAuthProtocolError("invalid_request", "redirect_uri is not one registered for this app");
    if (params.response_type !== "code")
      throw new OAuthProtocolError("unsupported_response_type", "response_type must be code");
    if ((params.aud ?? "").replace(/\/+$/, "") !== this.fhirBaseUrl)
      throw new OAuthProtocolError("invalid_request", "aud must be this server's FHIR base URL");
    if (!params.state) throw new OAuthProtocolError("invalid_request", "state is required");
    if (!params.code_challenge || params.code_challenge_method !== "S256")
      throw new OAuthProtocolError(
        "invalid_request",
        "PKCE is required: code_challenge with code_challenge_method S256",
      );
    if (params.launch !== undefined)
      throw new OAuthProtocolError("invalid_request", "EHR launch is not supported: use a standalone launch");
    return {
      client: { id: client.id, name: client.name, confidential: client.confidential },
      scopes: splitScope(params.scope).filter(isKnownScope),
    };
  }

  /**
   * The user's answer to an authorization request: a code for the app (through the library's
   * authorize handler, which checks the client, redirect URI, scope and PKCE method again), or
   * `access_denied`. Either way the answer is the URL to send the user's browser to.
   * @param user - The signed-in user (a patient or a practitioner session).
   */
  async decide(user: Principal, params: AuthorizeParams, approve: boolean): Promise<{ redirect: string }> {
    await this.check(params);
    if (user.kind !== "patient" && user.kind !== "practitioner")
      throw new BaseError("forbidden", "apps are approved by patients and practitioners");
    const smartUser: SmartUser = {
      account: user.account,
      kind: user.kind,
      grantId: randomUUID(),
      ...(user.organization === undefined ? {} : { organization: user.organization }),
      ...(user.role === undefined ? {} : { role: user.role }),
    };
    if (user.kind === "patient") {
      const patient = await this.#patientOf(user.account);
      if (patient !== undefined) smartUser.patient = patient;
    }
    const body: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined) body[k] = v;
    if (!approve) body.allowed = "false";
    const request = new OAuth2Server.Request({ method: "POST", query: {}, headers: {}, body });
    const response = new OAuth2Server.Response({ headers: {} });
    try {
      await this.#server.authorize(request, response, { authenticateHandler: { handle: () => smartUser } });
    } catch (error) {
      const location = response.get("location") as string | undefined;
      if (location !== undefined && error instanceof OAuth2Server.OAuthError) return { redirect: location };
      throw asProtocolError(error);
    }
    return { redirect: response.get("location") as string };
  }

  /**
   * The token endpoint: `authorization_code` (with the PKCE verifier) and `refresh_token`. A
   * confidential client must authenticate (HTTP Basic or `client_secret`); a public one sends its
   * `client_id`.
   */
  async token(
    form: Record<string, string>,
    headers: Record<string, string | undefined>,
  ): Promise<OAuthAnswer> {
    const refused =
      (await this.#confidentialWithoutSecret(form, headers)) ?? (await this.#widerAtRefresh(form));
    if (refused) return refused;
    const request = new OAuth2Server.Request({
      method: "POST",
      query: {},
      headers: { ...headers, "content-type": "application/x-www-form-urlencoded", "content-length": "1" },
      body: form,
    });
    const response = new OAuth2Server.Response({ headers: {} });
    try {
      await this.#server.token(request, response);
    } catch (error) {
      return errorAnswer(error);
    }
    return {
      status: 200,
      body: response.body as Record<string, unknown>,
      headers: { "cache-control": "no-store", pragma: "no-cache" },
    };
  }

  /**
   * RFC 7009 revocation. The caller is the app the token was issued to (public: its client_id;
   * confidential: authenticated). Revoking a refresh token revokes its whole grant. The answer is
   * 200 whether or not the token was known.
   */
  async revoke(
    form: Record<string, string>,
    headers: Record<string, string | undefined>,
  ): Promise<OAuthAnswer> {
    const caller = await this.#authenticateClient(form, headers);
    if ("answer" in caller) return caller.answer;
    const { client } = caller;
    const token = form.token;
    if (token) {
      const row = await this.store.row(token);
      if (row !== undefined && row.client_id === client.id) {
        if (row.kind === "refresh") await this.store.revokeGrant(row.grant_id);
        else await this.store.revokeAccess(token);
      }
    }
    return { status: 200, body: {}, headers: { "cache-control": "no-store" } };
  }

  /**
   * RFC 7662 introspection, for confidential clients, of the tokens issued to them. An unknown,
   * revoked or expired token, or another app's, answers `{ active: false }` and nothing else.
   */
  async introspect(
    form: Record<string, string>,
    headers: Record<string, string | undefined>,
  ): Promise<OAuthAnswer> {
    const caller = await this.#authenticateClient(form, headers);
    if ("answer" in caller) return caller.answer;
    if (!caller.client.confidential)
      return errorAnswer(
        new OAuthProtocolError("invalid_client", "introspection is for confidential clients", 401),
      );
    const row = form.token ? await this.store.row(form.token) : undefined;
    const answer = (body: Record<string, unknown>): OAuthAnswer => ({
      status: 200,
      body,
      headers: { "cache-control": "no-store" },
    });
    // an app learns about its own tokens only: another app's token is not active to it
    if (
      row === undefined ||
      row.client_id !== caller.client.id ||
      row.revoked_at !== null ||
      Number(row.expires_at) <= this.#now()
    )
      return answer({ active: false });
    const user = JSON.parse(row.user_json) as SmartUser;
    const scopes = splitScope(row.scope);
    return answer({
      active: true,
      scope: row.scope,
      client_id: row.client_id,
      sub: user.account,
      exp: Math.floor(Number(row.expires_at) / 1000),
      iat: Math.floor(Number(row.issued_at) / 1000),
      ...(row.kind === "access" ? { token_type: "Bearer" } : {}),
      ...(scopes.includes("launch/patient") && user.patient !== undefined ? { patient: user.patient } : {}),
    });
  }

  /**
   * The Principal of a request made with a SMART access token: the approving user, as a session
   * of theirs would be, narrowed by the token's scopes. 401 for an unknown, revoked or expired
   * token.
   */
  async principal(
    token: string,
    request: { purpose?: string | undefined; requestId: string },
  ): Promise<Principal> {
    const found = await this.store.getAccessToken(token);
    if (found === false) throw new BaseError("unauthenticated", "access token unknown, revoked or expired");
    const user = found.user as SmartUser;
    const principal: { -readonly [K in keyof Principal]: Principal[K] } = {
      account: getAddress(user.account),
      kind: user.kind,
      purpose: parsePurpose(user.kind, request.purpose),
      authenticatedBy: "smart-token",
      requestId: request.requestId,
      scope: accessScope(splitScope(found.scope).join(" "), user.patient),
    };
    if (user.organization !== undefined) principal.organization = user.organization;
    if (user.role !== undefined) principal.role = user.role;
    return principal;
  }

  /** The FHIR Patient linked to a patient's account (the first by id when several are). */
  async #patientOf(account: string): Promise<string | undefined> {
    const row = await this.#db.db
      .selectFrom("patient_links")
      .select("patient_id")
      .where("account", "=", account.toLowerCase())
      .orderBy("patient_id")
      .executeTakeFirst();
    return row?.patient_id;
  }

  /**
   * A refresh asking for more than its grant is refused before the library rotates (and so
   * revokes) the refresh token: the app keeps its grant, and gets nothing more.
   */
  async #widerAtRefresh(form: Record<string, string>): Promise<OAuthAnswer | undefined> {
    if (form.grant_type !== "refresh_token" || form.scope === undefined || !form.refresh_token)
      return undefined;
    const row = await this.store.row(form.refresh_token);
    if (row === undefined) return undefined;
    const granted = splitScope(row.scope);
    if (splitScope(form.scope).every((s) => granted.includes(s))) return undefined;
    return errorAnswer(new OAuthProtocolError("invalid_scope", "a refresh cannot add scopes to the grant"));
  }

  /** A confidential client calling the token endpoint without credentials is refused. */
  async #confidentialWithoutSecret(
    form: Record<string, string>,
    headers: Record<string, string | undefined>,
  ): Promise<OAuthAnswer | undefined> {
    if (basicCredentials(headers) !== undefined || form.client_secret) return undefined;
    const client = form.client_id ? await this.store.client(form.client_id) : undefined;
    if (client?.confidential)
      return errorAnswer(
        new OAuthProtocolError("invalid_client", "a confidential client must authenticate", 401),
      );
    return undefined;
  }

  /** The calling app: a confidential one by its secret, a public one by its client_id. */
  async #authenticateClient(
    form: Record<string, string>,
    headers: Record<string, string | undefined>,
  ): Promise<{ client: SmartClient } | { answer: OAuthAnswer }> {
    const basic = basicCredentials(headers);
    const id = basic?.id ?? form.client_id;
    const secret = basic?.secret ?? form.client_secret;
    const client = id ? await this.store.getClient(id, secret) : false;
    const invalid = () => ({
      answer: errorAnswer(new OAuthProtocolError("invalid_client", "client authentication failed", 401)),
    });
    if (client === false) return invalid();
    if (client.confidential && !secret) return invalid();
    return { client };
  }
}

/** HTTP Basic client credentials (RFC 6749 section 2.3.1: both parts form-urlencoded). */
function basicCredentials(
  headers: Record<string, string | undefined>,
): { id: string; secret: string } | undefined {
  const header = headers.authorization;
  if (header === undefined || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon)),
      secret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  } catch {
    return undefined;
  }
}

function asProtocolError(error: unknown): Error {
  if (error instanceof OAuth2Server.OAuthError)
    return new OAuthProtocolError(error.name, error.message, error.code === 401 ? 401 : 400);
  return error instanceof Error ? error : new Error(String(error));
}

function errorAnswer(error: unknown): OAuthAnswer {
  if (error instanceof OAuthProtocolError)
    return {
      status: error.status,
      body: { error: error.error, error_description: error.message },
      headers: {},
    };
  if (error instanceof OAuth2Server.OAuthError && error.code < 500)
    return {
      status: error.code,
      body: { error: error.name, error_description: error.message },
      headers: error.code === 401 ? { "www-authenticate": 'Basic realm="smart"' } : {},
    };
  throw error;
}
