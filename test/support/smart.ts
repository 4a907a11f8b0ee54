import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { LocalAccount } from "viem";
// the package's main entry is its Node adapter (lib/entry/node.js)
import smart from "fhirclient";
import { signIn, type Session } from "./session.js";

/** fhirclient's Client, as its Node adapter's `ready()` resolves it. */
type Client = Awaited<ReturnType<ReturnType<typeof smart>["ready"]>>;

/** An app registered at a node. */
export interface RegisteredApp {
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
}

/** Registers an app as the node's operator (its admin's session). */
export async function registerApp(
  url: string,
  operator: Session,
  body: { name: string; confidential: boolean; redirectUris: string[]; scope: string },
): Promise<RegisteredApp> {
  const res = await operator.send("POST", "/smart/clients", body);
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  const { clientId, clientSecret } = (await res.json()) as { clientId: string; clientSecret?: string };
  return { clientId, ...(clientSecret ? { clientSecret } : {}), redirectUri: body.redirectUris[0] ?? "" };
}

/** A PKCE pair (RFC 7636, S256). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** The parameters of a standalone launch's authorization request. */
export function authorizeParams(
  url: string,
  app: RegisteredApp,
  scope: string,
  challenge: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    response_type: "code",
    client_id: app.clientId,
    redirect_uri: app.redirectUri,
    scope,
    state: randomBytes(8).toString("hex"),
    aud: `${url}/fhir`,
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...extra,
  };
}

/**
 * The user's part of the launch, as the approval page does it: sign in with SIWE, approve (or
 * deny) the request over the API. Returns the URL the browser is sent to.
 */
export async function approve(
  url: string,
  user: LocalAccount | Session,
  params: Record<string, string>,
  decision = true,
): Promise<string> {
  const session = "token" in user ? user : await signIn(url, user);
  const res = await session.send("POST", "/smart/authorize/decision", { params, approve: decision });
  if (res.status !== 200) throw new Error(`decision failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { redirect: string }).redirect;
}

/** POSTs a form to an OAuth endpoint of the node. */
export async function postForm(
  url: string,
  path: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Runs the code flow by hand (the attacker's and the practitioner app's way): returns the token response. */
export async function codeFlow(
  url: string,
  app: RegisteredApp,
  user: LocalAccount | Session,
  scope: string,
): Promise<Record<string, unknown>> {
  const { verifier, challenge } = pkce();
  const params = authorizeParams(url, app, scope, challenge);
  const redirect = new URL(await approve(url, user, params));
  const code = redirect.searchParams.get("code");
  if (code === null) throw new Error(`no code: ${redirect.search}`);
  const form: Record<string, string> = {
    grant_type: "authorization_code",
    code,
    redirect_uri: app.redirectUri,
    client_id: app.clientId,
    code_verifier: verifier,
  };
  if (app.clientSecret) form.client_secret = app.clientSecret;
  const res = await postForm(url, "/smart/token", form);
  if (res.status !== 200) throw new Error(`token failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * A SMART app on 127.0.0.1 built on fhirclient's Node adapter: `/launch` starts the standalone
 * launch (fhirclient discovers the server, makes the PKCE pair and redirects), `/callback`
 * completes it (fhirclient exchanges the code) and hands the ready client to the test.
 */
export interface FhirclientApp {
  redirectUri: string;
  launchUrl: string;
  /** The client of the next completed launch. */
  nextClient(): Promise<Client>;
  close(): Promise<void>;
}

export async function startFhirclientApp(options: {
  fhirBaseUrl: string;
  clientId: () => string;
  scope: string;
}): Promise<FhirclientApp> {
  const memory = new Map<string, unknown>();
  const storage = {
    get: async (key: string) => memory.get(key),
    set: async (key: string, value: unknown) => (memory.set(key, value), value),
    unset: async (key: string) => memory.delete(key),
  };
  let resolveClient: ((client: Client) => void) | undefined;
  let rejectClient: ((error: unknown) => void) | undefined;
  let origin = "";
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/launch") {
      smart(req, res, storage)
        .authorize({
          iss: options.fhirBaseUrl,
          clientId: options.clientId(),
          scope: options.scope,
          redirectUri: `${origin}/callback`,
          pkceMode: "required",
        })
        .catch((error: unknown) => {
          res.writeHead(500).end(String(error));
        });
      return;
    }
    if (path === "/callback") {
      smart(req, res, storage)
        .ready()
        .then((client) => {
          res.writeHead(200, { "content-type": "text/plain" }).end("ready");
          resolveClient?.(client);
        })
        .catch((error: unknown) => {
          res.writeHead(500).end(String(error));
          rejectClient?.(error);
        });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    redirectUri: `${origin}/callback`,
    launchUrl: `${origin}/launch`,
    nextClient: () =>
      new Promise<Client>((resolve, reject) => {
        resolveClient = resolve;
        rejectClient = reject;
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
