import type { FastifyInstance, FastifyReply } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { BaseError } from "../../errors/BaseError.js";
import { requireKind, type Principal } from "../../model/principal.js";
import { SMART_PATHS, smartConfiguration } from "../../smart/configuration.js";
import { OAuthProtocolError, type OAuthAnswer, type SmartService } from "../../smart/smartService.js";
import { sessionAuth } from "../authenticate.js";
import { publicRoute, route } from "../routeDef.js";

export interface SmartDeps {
  smart: SmartService;
  nodeKey: Hex;
  /** This node's organization: its node principal and its admins register apps. */
  organizationId: Hex;
  /** The node's public URL, e.g. `https://clinic.example`. */
  publicUrl: string;
}

const param = z.string().max(2048).optional();
/** The parameters of a SMART authorization request (standalone launch). */
const authorizeParams = z.strictObject({
  response_type: param,
  client_id: param,
  redirect_uri: param,
  scope: param,
  state: param,
  aud: param,
  code_challenge: param,
  code_challenge_method: param,
  launch: param,
});

/**
 * SMART App Launch 2.x (docs/smart-on-fhir.md): discovery, the authorization page and the
 * approval API it calls, the token, revocation and introspection endpoints (OAuth form bodies,
 * RFC 6749 JSON answers), and app registration by the operator.
 */
export function smartRoutes(deps: SmartDeps) {
  const session = sessionAuth(deps.nodeKey);
  const configuration = smartConfiguration(deps.publicUrl);
  return async (app: FastifyInstance): Promise<void> => {
    for (const url of ["/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"])
      route(
        app,
        { method: "GET", url, summary: "SMART App Launch configuration", tags: ["smart"], auth: publicRoute },
        async ({ reply }) => reply.header("cache-control", "public, max-age=300").send(configuration),
      );

    route(
      app,
      {
        method: "GET",
        url: SMART_PATHS.authorize,
        summary: "SMART authorization: the page where the user signs in with SIWE and approves the app",
        tags: ["smart"],
        auth: publicRoute,
        query: authorizeParams.passthrough(),
      },
      async ({ query, reply }) => {
        const params = authorizeParams.strip().parse(query);
        const checked = await deps.smart.check(params).catch((error: unknown) => {
          if (error instanceof OAuthProtocolError) return error;
          throw error;
        });
        if (checked instanceof OAuthProtocolError)
          return reply
            .status(400)
            .header("cache-control", "no-store")
            .send({ error: checked.error, error_description: checked.message });
        return reply
          .header("cache-control", "no-store")
          .type("text/html; charset=utf-8")
          .send(approvalPage(checked.client.name, checked.scopes, params));
      },
    );

    route(
      app,
      {
        method: "POST",
        url: SMART_PATHS.decision,
        summary: "Approve or deny an app's authorization request as the signed-in user",
        tags: ["smart"],
        auth: session,
        body: z.strictObject({ params: authorizeParams, approve: z.boolean() }),
      },
      async ({ caller, body, reply }) => {
        try {
          return reply
            .header("cache-control", "no-store")
            .send(await deps.smart.decide(caller, body.params, body.approve));
        } catch (error) {
          if (error instanceof OAuthProtocolError)
            return reply.status(error.status).send({ error: error.error, error_description: error.message });
          throw error;
        }
      },
    );

    route(
      app,
      {
        method: "POST",
        url: SMART_PATHS.clients,
        summary: "Register a SMART app (this node's operator)",
        tags: ["smart"],
        auth: session,
        body: z.strictObject({
          name: z.string().min(1).max(200),
          confidential: z.boolean(),
          redirectUris: z.array(z.string().max(2048)).min(1).max(10),
          scope: z.string().min(1).max(4096),
        }),
      },
      async ({ caller, body, reply }) => {
        requireOperator(caller, deps.organizationId);
        return reply
          .status(201)
          .header("cache-control", "no-store")
          .send(await deps.smart.register(body));
      },
    );

    // The OAuth endpoints take form bodies (RFC 6749 section 3.2), in this plugin only.
    await app.register((scope: FastifyInstance, _options: unknown, done: () => void) => {
      scope.addContentTypeParser(
        "application/x-www-form-urlencoded",
        { parseAs: "string", bodyLimit: 16 * 1024 },
        (_request, body, parsed) => {
          const form: Record<string, string> = {};
          for (const [key, value] of new URLSearchParams(body as string)) {
            // a parameter sent twice is refused (RFC 6749 section 3.1)
            if (key in form) {
              parsed(new OAuthProtocolError("invalid_request", "a parameter is repeated"), undefined);
              return;
            }
            form[key] = value;
          }
          parsed(null, form);
        },
      );
      const endpoint = (url: string, summary: string, answer: typeof deps.smart.token) =>
        route(
          scope,
          { method: "POST", url, summary, tags: ["smart"], auth: publicRoute },
          async ({ request, body, reply }) => {
            const type = request.headers["content-type"] ?? "";
            if (
              typeof body !== "object" ||
              body === null ||
              !type.startsWith("application/x-www-form-urlencoded")
            )
              return send(reply, {
                status: 400,
                body: {
                  error: "invalid_request",
                  error_description: "send an application/x-www-form-urlencoded body",
                },
                headers: {},
              });
            const authorization = request.headers.authorization;
            return send(
              reply,
              await answer.call(deps.smart, body as Record<string, string>, { authorization }),
            );
          },
        );
      endpoint(
        SMART_PATHS.token,
        "OAuth 2 token endpoint (authorization code with PKCE, refresh)",
        deps.smart.token,
      );
      endpoint(SMART_PATHS.revoke, "OAuth 2 token revocation (RFC 7009)", deps.smart.revoke);
      endpoint(SMART_PATHS.introspect, "OAuth 2 token introspection (RFC 7662)", deps.smart.introspect);
      done();
    });
  };
}

function send(reply: FastifyReply, answer: OAuthAnswer): FastifyReply {
  return reply.status(answer.status).headers(answer.headers).type("application/json").send(answer.body);
}

/** Apps are registered by this node's operator: its node principal or an admin of its organization. */
function requireOperator(caller: Principal, organizationId: Hex): void {
  requireKind(caller, "node", "practitioner");
  if (
    caller.organization?.toLowerCase() !== organizationId.toLowerCase() ||
    (caller.kind === "practitioner" && caller.role !== "admin")
  )
    throw new BaseError("forbidden", "apps are registered by this node's operator (its node or an admin)");
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The approval page: a thin layer over the API (the web app replaces it): sign in with the
 * browser wallet (SIWE, /auth/challenge and /auth/verify), then POST the decision and follow
 * the redirect it answers.
 */
function approvalPage(
  appName: string,
  scopes: readonly string[],
  params: Record<string, string | undefined>,
): string {
  const data = JSON.stringify(params).replace(/</g, "\\u003c");
  const items = scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize ${escapeHtml(appName)}</title></head>
<body>
<h1>${escapeHtml(appName)} asks to use your carechain record</h1>
<p>It asks for these scopes. It will never see more than your consent allows.</p>
<ul>${items}</ul>
<button id="approve">Sign in with your wallet and approve</button>
<button id="deny">Deny</button>
<p id="status"></p>
<script type="application/json" id="params">${data}</script>
<script>
const params = JSON.parse(document.getElementById("params").textContent);
const post = (path, body, token) => fetch(path, { method: "POST", headers: Object.assign({ "content-type": "application/json" }, token ? { authorization: "Bearer " + token } : {}), body: JSON.stringify(body) }).then((r) => r.json());
async function decide(approve) {
  const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const challenge = await post("/auth/challenge", { address });
  const signature = await window.ethereum.request({ method: "personal_sign", params: [challenge.message, address] });
  const session = await post("/auth/verify", { message: challenge.message, signature });
  const answer = await post("${SMART_PATHS.decision}", { params, approve }, session.token);
  if (answer.redirect) window.location.assign(answer.redirect);
  else document.getElementById("status").textContent = answer.error_description || "refused";
}
document.getElementById("approve").onclick = () => decide(true).catch((e) => (document.getElementById("status").textContent = String(e)));
document.getElementById("deny").onclick = () => decide(false).catch((e) => (document.getElementById("status").textContent = String(e)));
</script>
</body></html>`;
}
