import { describe, expect, it } from "vitest";
import { auditEntrySchema } from "../audit/auditEntry.js";
import { createLogger } from "../node/logger.js";
import { buildApp } from "./app.js";
import { publicRoute, route, routeTable } from "./routeDef.js";

describe("request ids", () => {
  it("keeps a caller's id the audit log can name, and replaces any other", async () => {
    const app = await buildApp({
      logger: createLogger("silent"),
      routes: [
        (a) =>
          route(
            a,
            { method: "GET", url: "/id", summary: "id", tags: [], auth: publicRoute },
            async ({ request }) => ({
              id: request.id,
            }),
          ),
      ],
    });
    const idOf = async (given?: string) => {
      const res = await app.inject({
        method: "GET",
        url: "/id",
        headers: given ? { "x-request-id": given } : {},
      });
      expect(res.headers["x-request-id"]).toBe(res.json<{ id: string }>().id);
      return res.json<{ id: string }>().id;
    };
    expect(await idOf("trace-1.a_b")).toBe("trace-1.a_b");
    for (const bad of ["-leading-dash", ".dot", "_under", "has space", "x".repeat(65), "名前"]) {
      const id = await idOf(bad);
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Whatever id a request ends up with is one an audit entry accepts.
    for (const given of [undefined, "trace-1.a_b", "-x", "9"]) {
      expect(auditEntrySchema.shape.requestId.safeParse(await idOf(given)).success).toBe(true);
    }
    await app.close();
  });
});

describe("declared routes", () => {
  it("refuses to build an app with a route registered past route(): every route declares its authentication", async () => {
    await expect(
      buildApp({ logger: createLogger("silent"), routes: [(a) => void a.get("/raw", async () => "raw")] }),
    ).rejects.toThrow(/must be declared with route\(\)/);
  });

  it("authenticates before the handler and before the body is read, and lists every route with its scheme", async () => {
    let handled = 0;
    const app = await buildApp({
      logger: createLogger("silent"),
      routes: [
        (a) =>
          route(
            a,
            {
              method: "POST",
              url: "/guarded/:id",
              summary: "guarded",
              tags: [],
              auth: {
                scheme: "session",
                beforeBody: true,
                authenticate: (request) => {
                  if (request.headers.authorization !== "Bearer ok")
                    throw Object.assign(new Error("x"), { statusCode: 401 });
                  return { who: "ok" };
                },
              },
            },
            async ({ caller }) => {
              handled++;
              return caller;
            },
          ),
      ],
    });
    const refused = await app.inject({
      method: "POST",
      url: "/guarded/1",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    // 401, not 400: the malformed body was never parsed
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ resourceType: "OperationOutcome" });
    const ok = await app.inject({
      method: "POST",
      url: "/guarded/1",
      headers: { authorization: "Bearer ok" },
    });
    expect(ok.json()).toEqual({ who: "ok" });
    expect(handled).toBe(1);
    const wrongMethod = await app.inject({ method: "GET", url: "/guarded/7" });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe("POST");
    expect(routeTable(app).map((r) => `${r.method} ${r.url} ${r.auth}`)).toEqual([
      "POST /guarded/:id session",
      "GET /openapi.json public",
    ]);
    await app.close();
  });
});
