import type { FastifyInstance } from "fastify";
import { publicRoute, route } from "../routeDef.js";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>carechain node</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1b2733}code{background:#eef2f5;padding:.1rem .3rem;border-radius:3px}</style>
</head><body>
<h1>carechain node</h1>
<p>Patient-controlled health records: patients sign who may see what, every access is logged and anchored on the ledger.</p>
<ul>
<li><a href="/health">/health</a> &mdash; ledger, database, indexer and outbox status</li>
<li><a href="/openapi.json">/openapi.json</a> &mdash; the HTTP API</li>
<li><a href="/fhir/metadata">/fhir/metadata</a> &mdash; FHIR R4 CapabilityStatement</li>
<li><a href="/audit/tree-heads">/audit/tree-heads</a> &mdash; signed tree heads of this node's audit log</li>
</ul>
<p>Sign in with <code>POST /auth/challenge</code> and <code>POST /auth/verify</code> (Sign-In with Ethereum), or use the CLI: <code>npx carechain --help</code>.
With <code>npm start</code>, demo identities are in <code>data/demo-accounts.json</code>.</p>
</body></html>`;

/** `GET /`: a small landing page pointing at the API. */
export function homeRoutes(app: FastifyInstance): void {
  route(
    app,
    { method: "GET", url: "/", summary: "Landing page", tags: ["node"], auth: publicRoute },
    async ({ reply }) => reply.type("text/html; charset=utf-8").send(PAGE),
  );
}
