import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { routeTable, type DeclaredRoute } from "../../src/api/routeDef.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { exchange, type Answer } from "../support/exchange.js";
import { signIn, type Session } from "../support/session.js";

/**
 * The routes anyone may call without credentials. Adding a route here is a decision to review:
 * every other route of the node (taken from the app's own route table, so a new route is covered
 * the moment it is registered) must refuse an unauthenticated caller with a 401.
 */
const PUBLIC_ROUTES = [
  "GET /",
  // the web app: its pages, hashed assets and public configuration (ledger URL, contracts)
  "GET /*",
  "GET /app/config",
  "GET /assets/:file",
  "GET /audit/consistency",
  "GET /audit/tree-heads",
  "GET /consents/domain",
  "GET /consents/nonce/:patient",
  "GET /fhir/metadata",
  "GET /health",
  "GET /openapi.json",
  "POST /auth/challenge",
  "POST /auth/verify",
  // no session: the body carries the patient's EIP-712 signature, checked by the consent service
  "POST /consents",
  "POST /consents/revoke",
  // SMART App Launch discovery and the approval page: public by the SMART and OAuth specs
  "GET /.well-known/smart-configuration",
  "GET /fhir/.well-known/smart-configuration",
  "GET /smart/authorize",
  // OAuth endpoints: the caller is an app, authenticated by its code and PKCE verifier, its
  // refresh token or its client secret, inside (src/smart/smartService.ts)
  "POST /smart/introspect",
  "POST /smart/revoke",
  "POST /smart/token",
  // SMART Health Cards: the issuer's keys and revocation lists (public by the spec), the ledger
  // cache offline verifiers load, and verification of a card the caller holds
  "GET /.well-known/crl/:file",
  "GET /.well-known/jwks.json",
  "GET /passport/ledger-cache",
  "POST /passport/verify",
  // the health card verifier's service worker: a static file listing the verifier's own files
  "GET /verify-sw.js",
  // CDS Hooks discovery: lists the services and their prefetch templates, nothing about anyone
  "GET /cds-services",
  // no session: a device's batch is authenticated by the device's ES256 signature over its payload,
  // checked by the monitoring ingestor (src/monitoring/ingest.ts)
  "POST /monitoring/batches",
];

/** A concrete path for a route pattern; authentication comes before any parameter is read. */
const pathOf = (url: string): string => url.replace(/:[A-Za-z_]+/g, "x");
const name = (r: DeclaredRoute): string => `${r.method} ${r.url}`;

function expect401(a: Answer, route: string): void {
  expect(a.status, `${route}: ${a.text.slice(0, 200)}`).toBe(401);
  expect(a.headers["content-type"], route).toMatch(/^application\/fhir\+json/);
  const body = JSON.parse(a.text) as { resourceType: string; issue: Array<{ code: string }> };
  expect(body.resourceType, route).toBe("OperationOutcome");
  expect(body.issue[0]?.code, route).toBe("login");
}

describe("every route enforces the authentication it declares", () => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-routeauth-"));
  let node: RunningNode;
  let patient: Session;
  let routes: readonly DeclaredRoute[];

  beforeAll(async () => {
    node = await startNode(loadConfig({}, { dataDir: dir, port: 0 }), { logger: createLogger("silent") });
    patient = await signIn(node.url, privateKeyToAccount(generatePrivateKey()));
    routes = routeTable(node.app);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("declares exactly the pinned routes as public", () => {
    const declaredPublic = routes.filter((r) => r.auth === "public").map(name);
    expect(declaredPublic.sort()).toEqual([...PUBLIC_ROUTES].sort());
    // the table is the whole API: it holds every kind of protected route too
    expect(new Set(routes.map((r) => r.auth))).toEqual(
      new Set([
        "public",
        "session",
        "node-signature",
        "access-request",
        "session-or-access-request",
        "cds-client-jwt",
      ]),
    );
    expect(routes.length).toBeGreaterThan(30);
  });

  it("answers 401 OperationOutcome to a caller without credentials on every other route", async () => {
    const guarded = routes.filter((r) => r.auth !== "public");
    for (const r of guarded) {
      expect401(await exchange(`${node.url}${pathOf(r.url)}`, r.method, {}), name(r));
      // a body does not get a caller further: it is not even read before authentication
      if (r.method === "POST" || r.method === "PUT") {
        const withBody = await exchange(
          `${node.url}${pathOf(r.url)}`,
          r.method,
          { "content-type": "application/json" },
          "{}",
        );
        expect401(withBody, `${name(r)} with a body`);
      }
    }
    for (const r of guarded.filter((g) => g.method === "GET" && g.auth === "session")) {
      const head = await exchange(`${node.url}${pathOf(r.url)}`, "HEAD", {});
      expect(head.status, `HEAD ${r.url}`).toBe(401);
    }
  });

  it("answers 401 to a forged or expired-looking session token, and to a session where a node signature is due", async () => {
    const session = routes.filter((r) => r.auth === "session");
    const forged = `${patient.token.slice(0, -4)}AAAA`;
    for (const r of session) {
      for (const token of [forged, "not-a-jwt", ""]) {
        expect401(
          await exchange(`${node.url}${pathOf(r.url)}`, r.method, { authorization: `Bearer ${token}` }),
          `${name(r)} with token ${token.slice(0, 8)}`,
        );
      }
    }
    // a patient's valid session is not a node's signature nor a practitioner's AccessRequest
    for (const r of routes.filter((g) => g.auth === "node-signature" || g.auth === "access-request")) {
      expect401(
        await exchange(`${node.url}${pathOf(r.url)}`, r.method, { authorization: `Bearer ${patient.token}` }),
        `${name(r)} with a patient session`,
      );
    }
    // and the same session does open a session route
    expect((await patient.get("/auth/me")).status).toBe(200);
  });
});
