/**
 * The web app (web/, built to web/dist/ by scripts/buildWeb.js) served at `/`: hashed assets
 * cached for a year, index.html never cached, a Content-Security-Policy the app passes, a small
 * public configuration (the ledger's JSON-RPC URL and the contracts the browser verifies against),
 * and, with `--demo` only, the demo identities. Paths that no API route serves fall back to
 * index.html (the app's client-side routes); a path under an API prefix answers 404 as before.
 * docs/web-app.md
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { noRoute } from "../operationOutcome.js";
import { publicRoute, route } from "../routeDef.js";

/** What the browser needs to know before sign-in; nothing secret. */
export interface WebAppConfig {
  organization: { id: string; name: string };
  /** The node's account: its audit log's anchors on the ledger are under this address. */
  node: string;
  chainId: number;
  /** Where the browser reads anchored roots: the ledger itself, never the node. */
  chainRpcUrl: string;
  contracts: Record<string, string>;
  demo: boolean;
}

/** One demo identity (laptop demo only; never real keys). */
export interface DemoIdentity {
  role: string;
  address: string;
  privateKey: string;
  patientId?: string | undefined;
  organization?: string | undefined;
}

export interface WebAppDeps {
  /** The built app (web/dist). */
  distDir: string;
  config: () => Promise<WebAppConfig>;
  /** Present only when the node runs with `--demo`: the route does not exist otherwise. */
  demoAccounts?: (() => Promise<DemoIdentity[]>) | undefined;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
};

/** The Content-Security-Policy of the app's pages: its own scripts and styles, the node and the ledger. */
export function contentSecurityPolicy(chainRpcUrl: string): string {
  let ledger = "";
  try {
    ledger = ` ${new URL(chainRpcUrl).origin}`;
  } catch {
    // no ledger URL the browser could read: verification will say it cannot reach the ledger
  }
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${ledger}`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join("; ");
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>carechain node</title></head><body>
<h1>carechain node</h1>
<p>The web app is not built. Build it with <code>npm run build</code> (or <code>node scripts/buildWeb.js</code>)
and reload; <code>npm ci</code> and <code>npm start</code> build it too.</p>
<p>The API is up: <a href="/health">/health</a>, <a href="/openapi.json">/openapi.json</a>,
<a href="/fhir/metadata">/fhir/metadata</a>.</p>
</body></html>`;

/** Fastify's default maxParamLength. */
const MAX_PARAM_LENGTH = 100;

/** First path segments of the app's client-side routes (web/src/App.tsx). */
const APP_SECTIONS: ReadonlySet<string> = new Set(["patient", "clinic", "operator", "verify"]);

/** `GET /` and the app's assets, configuration, demo identities and client-side routes. */
export function webAppRoutes(deps: WebAppDeps) {
  return (app: FastifyInstance): void => {
    // First path segments of the API's routes: a path under one of them is never an app page.
    const apiPrefixes = new Set<string>();
    const own = new Set(["", "assets", "app", "demo", "verify-sw.js", "*"]);
    app.addHook("onRoute", (r) => {
      const first = r.url.split("/")[1] ?? "";
      if (!own.has(first)) apiPrefixes.add(first);
    });
    // index.html is re-read when a rebuild replaced it (its asset names change with every build)
    let index: { mtimeMs: number; html: string } | undefined;
    const indexHtml = (): string | undefined => {
      const file = join(deps.distDir, "index.html");
      if (!existsSync(file)) return undefined;
      const { mtimeMs } = statSync(file);
      if (index?.mtimeMs !== mtimeMs) index = { mtimeMs, html: readFileSync(file, "utf8") };
      return index.html;
    };

    const page = async (reply: FastifyReply) => {
      const html = indexHtml();
      const { chainRpcUrl } = await deps.config();
      return reply
        .header("cache-control", "no-cache")
        .header("content-security-policy", contentSecurityPolicy(chainRpcUrl))
        .type("text/html; charset=utf-8")
        .send(html ?? NOT_BUILT);
    };

    route(
      app,
      { method: "GET", url: "/", summary: "The web app", tags: ["web"], auth: publicRoute },
      async ({ reply }) => page(reply),
    );
    route(
      app,
      {
        method: "GET",
        url: "/assets/:file",
        summary: "The web app's content-hashed files (cached for a year)",
        tags: ["web"],
        auth: publicRoute,
        params: z.object({ file: z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/) }),
      },
      async ({ params, reply }) => {
        const type = TYPES[extname(params.file)];
        if (type === undefined) throw noRoute();
        let body: Buffer;
        try {
          body = await readFile(join(deps.distDir, "assets", params.file));
        } catch {
          throw noRoute();
        }
        return reply.header("cache-control", "public, max-age=31536000, immutable").type(type).send(body);
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/verify-sw.js",
        summary: "The health card verifier's service worker: keeps the verifier and the ledger cache offline",
        tags: ["web"],
        auth: publicRoute,
      },
      async ({ reply }) => {
        let body: Buffer;
        try {
          body = await readFile(join(deps.distDir, "verify-sw.js"));
        } catch {
          throw noRoute();
        }
        // re-checked on every registration, so a new build's worker replaces the old one
        return reply
          .header("cache-control", "no-cache")
          .header("content-security-policy", "default-src 'none'; connect-src 'self'")
          .type(TYPES[".js"] ?? "text/javascript")
          .send(body);
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/app/config",
        summary: "What the web app needs before sign-in: the ledger's JSON-RPC URL, contracts, node",
        tags: ["web"],
        auth: publicRoute,
      },
      async ({ reply }) => reply.header("cache-control", "no-cache").send(await deps.config()),
    );
    const demoAccounts = deps.demoAccounts;
    if (demoAccounts !== undefined)
      route(
        app,
        {
          method: "GET",
          url: "/demo/accounts",
          summary: "Demo only (--demo): the demo identities and their keys, for one-click sign-in",
          tags: ["web"],
          auth: publicRoute,
        },
        async ({ reply }) =>
          reply.header("cache-control", "no-store").send({
            note: "demo identities: never use these keys for real data",
            accounts: await demoAccounts(),
          }),
      );
    route(
      app,
      {
        method: "GET",
        url: "/*",
        summary: "The web app's client-side routes (index.html); API paths answer 404",
        tags: ["web"],
        auth: publicRoute,
      },
      async ({ request, reply }) => {
        const segments = (request.url.split("?")[0] ?? "").split("/");
        // the router falls back to this route when an API route's parameter is too long
        if (segments.some((s) => s.length > MAX_PARAM_LENGTH))
          throw Object.assign(new Error("path parameter too long"), { code: "FST_ERR_MAX_PARAM_LENGTH" });
        const first = segments[1] ?? "";
        // only the app's own sections are pages: any other path is the API's 404, as before
        if (!APP_SECTIONS.has(first) || apiPrefixes.has(first)) throw noRoute();
        return page(reply);
      },
    );
  };
}
