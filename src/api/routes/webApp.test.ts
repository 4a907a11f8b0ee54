import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../node/logger.js";
import { buildApp } from "../app.js";
import { publicRoute, route } from "../routeDef.js";
import { webAppRoutes, type WebAppConfig } from "./webApp.js";

const config: WebAppConfig = {
  organization: { id: `0x${"ab".repeat(32)}`, name: "Test Hospital" },
  node: `0x${"11".repeat(20)}`,
  chainId: 31337,
  chainRpcUrl: "http://127.0.0.1:8545/",
  contracts: { AuditAnchor: `0x${"22".repeat(20)}` },
  demo: false,
};

const dist = mkdtempSync(join(tmpdir(), "carechain-webapp-"));
mkdirSync(join(dist, "assets"));
writeFileSync(
  join(dist, "index.html"),
  '<!doctype html><script type="module" src="/assets/index-abc.js"></script>',
);
writeFileSync(join(dist, "assets", "index-abc.js"), "console.log(1)");
afterAll(() => rmSync(dist, { recursive: true, force: true }));

const app = async (distDir: string, demo?: () => Promise<[]>) =>
  buildApp({
    logger: createLogger("silent"),
    routes: [
      webAppRoutes({ distDir, config: async () => config, demoAccounts: demo }),
      (a) =>
        route(
          a,
          { method: "GET", url: "/fhir/metadata", summary: "m", tags: [], auth: publicRoute },
          async () => ({}),
        ),
    ],
  });

describe("the web app at /", () => {
  it("serves index.html uncached under a CSP naming only itself and the ledger, and hashed assets immutable", async () => {
    const a = await app(dist);
    const index = await a.inject({ method: "GET", url: "/" });
    expect(index.statusCode).toBe(200);
    expect(index.headers["cache-control"]).toBe("no-cache");
    const csp = String(index.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:8545;");
    expect(csp).not.toContain("unsafe");
    const asset = await a.inject({ method: "GET", url: "/assets/index-abc.js" });
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(asset.headers["content-type"]).toMatch(/^text\/javascript/);
    const traversal = await a.inject({ method: "GET", url: "/assets/..%2Findex.html" });
    expect(traversal.statusCode).toBe(400);
    expect(traversal.json().resourceType).toBe("OperationOutcome");
    expect((await a.inject({ method: "GET", url: "/assets/missing.js" })).statusCode).toBe(404);
  });

  it("answers client-side routes with the app, but API paths with the API's 404", async () => {
    const a = await app(dist);
    const page = await a.inject({ method: "GET", url: "/patient/access-log" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("/assets/index-abc.js");
    const api = await a.inject({ method: "GET", url: "/fhir/nothing/here/at/all" });
    expect(api.statusCode).toBe(404);
    expect(api.json().resourceType).toBe("OperationOutcome");
    expect((await a.inject({ method: "POST", url: "/patient" })).statusCode).toBe(404);
  });

  it("serves the public verifier page and its service worker, re-checked on every registration", async () => {
    writeFileSync(join(dist, "verify-sw.js"), 'const ASSETS = ["/assets/index-abc.js"];');
    const a = await app(dist);
    const page = await a.inject({ method: "GET", url: "/verify" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("/assets/index-abc.js");
    const worker = await a.inject({ method: "GET", url: "/verify-sw.js" });
    expect(worker.statusCode).toBe(200);
    expect(worker.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(worker.headers["cache-control"]).toBe("no-cache");
    expect(worker.headers["content-security-policy"]).toBe("default-src 'none'; connect-src 'self'");
    expect(worker.body).toContain("ASSETS");
    const unbuilt = await app(join(dist, "nowhere"));
    expect((await unbuilt.inject({ method: "GET", url: "/verify-sw.js" })).statusCode).toBe(404);
  });

  it("tells the app its ledger and contracts, and has no demo route without --demo", async () => {
    const a = await app(dist);
    expect((await a.inject({ method: "GET", url: "/app/config" })).json()).toEqual(config);
    expect((await a.inject({ method: "GET", url: "/demo/accounts" })).statusCode).toBe(404);
    const withDemo = await app(dist, async () => []);
    expect((await withDemo.inject({ method: "GET", url: "/demo/accounts" })).json().accounts).toEqual([]);
  });

  it("says how to build the app when it is not built", async () => {
    const a = await app(join(dist, "nowhere"));
    const res = await a.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("npm run build");
  });
});
