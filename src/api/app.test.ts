import { describe, expect, it } from "vitest";
import { auditEntrySchema } from "../audit/auditEntry.js";
import { createLogger } from "../node/logger.js";
import { buildApp } from "./app.js";

describe("request ids", () => {
  it("keeps a caller's id the audit log can name, and replaces any other", async () => {
    const app = await buildApp({
      logger: createLogger("silent"),
      routes: [(a) => void a.get("/id", async (request) => ({ id: request.id }))],
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
