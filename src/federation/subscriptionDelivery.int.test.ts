import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../node/logger.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { HookTargets } from "./hookTargets.js";
import { DeliveryQueue } from "./subscriptionDelivery.js";

describe.each(engines)("DeliveryQueue (%s)", (engine) => {
  let t: TestStore;
  let server: Server;
  let url = "";
  const calls: Array<{ path: string; body: string; signature: string | undefined }> = [];
  const failures = new Map<string, number>();

  beforeAll(async () => {
    t = await freshStore(engine);
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        const path = req.url ?? "";
        const sig = req.headers["x-test-signature"];
        calls.push({ path, body, signature: Array.isArray(sig) ? sig[0] : sig });
        const left = failures.get(path) ?? 0;
        failures.set(path, left - 1);
        res.writeHead(left > 0 ? 503 : 204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await t.dispose();
  });

  const queue = (maxAttempts = 4) =>
    new DeliveryQueue({
      store: t.store,
      logger: createLogger("silent"),
      baseDelayMs: 20,
      maxAttempts,
      pollMs: 50,
      sign: ({ path, body }) => ({ "x-test-signature": `${path}:${body.length}` }),
    });

  it("retries with backoff until delivered, once, signed", async () => {
    failures.set("/a", 2);
    const q = queue();
    await q.enqueue("k-a", "test", `${url}/a`, { hello: 1 });
    await q.enqueue("k-a", "test", `${url}/a`, { hello: 2 }); // same key: ignored
    q.start();
    const until = Date.now() + 5000;
    while ((await q.status("k-a"))?.status !== "delivered" && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    await q.stop();
    expect(await q.status("k-a")).toEqual({ status: "delivered", attempts: 3 });
    const mine = calls.filter((c) => c.path === "/a");
    expect(mine).toHaveLength(3);
    expect(new Set(mine.map((c) => c.body))).toEqual(new Set(['{"hello":1}']));
    expect(mine[0]?.signature).toBe("/a:11");
  });

  it("gives up after the bounded number of attempts", async () => {
    failures.set("/b", 100);
    const q = queue(3);
    await q.enqueue("k-b", "test", `${url}/b`, {});
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await q.runOnce();
    }
    expect(await q.status("k-b")).toEqual({ status: "failed", attempts: 3 });
    expect(await q.runOnce()).toBe(0);
  });

  it("never connects a user-chosen hook to a private address, unless the operator allows the host", async () => {
    // Queued straight into the table (as if the name had resolved elsewhere when the subscription
    // was made): the connection itself refuses loopback for the guarded kind.
    const q = queue(1);
    await q.enqueue("k-ssrf", "subscription", `${url}/ssrf`, { n: 1 });
    await q.enqueue("k-peer", "referral-notice", `${url}/peer`, { n: 1 });
    // A name is refused by the connection's DNS lookup (so rebinding after the check gains nothing).
    await q.enqueue("k-name", "subscription", `${url.replace("127.0.0.1", "localhost")}/ssrf`, { n: 1 });
    expect(await q.runOnce()).toBe(3);
    const named = await t.store.db
      .selectFrom("push_deliveries")
      .select(["status", "last_error"])
      .where("idem_key", "=", "k-name")
      .executeTakeFirstOrThrow();
    expect(named).toEqual({ status: "failed", last_error: "endpoint must be a public address" });
    expect(await q.status("k-ssrf")).toEqual({ status: "failed", attempts: 1 });
    expect(await q.status("k-peer")).toEqual({ status: "delivered", attempts: 1 });
    expect(calls.filter((c) => c.path === "/ssrf")).toHaveLength(0);
    await expect(q.admit("subscription", `${url}/ssrf`)).rejects.toThrow(/endpoint must be a public address/);

    const allowed = new DeliveryQueue({
      store: t.store,
      logger: createLogger("silent"),
      targets: new HookTargets(["127.0.0.1"]),
    });
    await allowed.admit("subscription", `${url}/ok`);
    await allowed.enqueue("k-allowed", "subscription", `${url}/ok`, { n: 1 });
    expect(await allowed.runOnce()).toBe(1);
    expect(await allowed.status("k-allowed")).toEqual({ status: "delivered", attempts: 1 });
  });

  it("survives a restart: a queued push is delivered by a new queue", async () => {
    await queue().enqueue("k-c", "test", `${url}/c`, { n: 1 });
    const fresh = queue();
    expect(await fresh.runOnce()).toBe(1);
    expect(await fresh.status("k-c")).toEqual({ status: "delivered", attempts: 1 });
  });

  it("accepts only http(s) endpoints", async () => {
    await expect(queue().enqueue("k-d", "test", "ftp://127.0.0.1/x", {})).rejects.toThrow(/http\(s\)/);
  });
});
