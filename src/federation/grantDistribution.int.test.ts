import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it } from "vitest";
import {
  buildGrantMessage,
  consentDomain,
  grantIdOf,
  signGrant,
  signedGrantToJson,
} from "../consent/signConsent.js";
import { createLogger } from "../node/logger.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { GRANT_PUSH_KIND, GrantDistributor, GRANTS_PATH } from "./grantDistribution.js";
import { signNodeRequest, verifyNodeRequest } from "./nodeAuth.js";
import { DeliveryQueue } from "./subscriptionDelivery.js";

/** A port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

describe.each(engines)("grant terms pushes (%s)", (engine) => {
  let t: TestStore | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((r) => server?.close(r));
    server = undefined;
    await t?.dispose();
    t = undefined;
  });

  it("queues a push to a node that is down and delivers it, signed, after a restart once the node is up", async () => {
    t = await freshStore(engine);
    const node = privateKeyToAccount(generatePrivateKey());
    const peerNode = privateKeyToAccount(generatePrivateKey());
    const patient = privateKeyToAccount(generatePrivateKey());
    const peerOrg = keccak256(toHex(`peer-${engine}`));
    const selfOrg = keccak256(toHex(`self-${engine}`));
    const port = await freePort();
    await t.store.db
      .insertInto("organizations")
      .values([
        {
          id: peerOrg.toLowerCase(),
          name: "Peer",
          kind: "clinic",
          endpoint: `http://127.0.0.1:${port}`,
          node_address: peerNode.address.toLowerCase(),
          active: 1,
        },
        // the pushing node, as the receiver's registry knows it (the test shares one database)
        {
          id: selfOrg.toLowerCase(),
          name: "Self",
          kind: "clinic",
          endpoint: "http://127.0.0.1:1",
          node_address: node.address.toLowerCase(),
          active: 1,
        },
      ])
      .execute();
    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "organization", organization: peerOrg },
      categories: ["mental-health"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: 1_700_000_000,
      notAfter: 1_900_000_000,
    });
    const domain = consentDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const terms = signedGrantToJson(message, await signGrant(patient, domain, message));
    const grantId = grantIdOf(message);
    const logger = createLogger("silent");
    const queueOf = () =>
      new DeliveryQueue({
        store: t!.store,
        logger,
        baseDelayMs: 10,
        maxDelayMs: 20,
        sign: (request) => signNodeRequest(node, request),
      });
    const before = queueOf();
    const distributor = new GrantDistributor({
      db: t.store.db,
      consents: {
        signedTerms: async (ids) =>
          ids.map((i) => i.toLowerCase()).includes(grantId.toLowerCase()) ? [terms] : [],
        relayedTermsOf: async () => [],
      },
      account: node,
      organizationId: selfOrg,
      logger,
      timeoutMs: 1000,
      retries: before,
    });

    // the peer is down: the push fails and waits in the queue
    const results = await distributor.distribute(grantId);
    expect(results).toEqual([{ organization: peerOrg.toLowerCase(), status: "unreachable", queued: true }]);
    const queued = await t.store.db.selectFrom("push_deliveries").selectAll().execute();
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ kind: GRANT_PUSH_KIND, status: "pending" });
    expect(queued[0]!.idem_key.startsWith(`grant:${patient.address.toLowerCase()}:`)).toBe(true);
    // a retry while it is still down backs off and stays pending
    await new Promise((r) => setTimeout(r, 30));
    expect(await before.runOnce()).toBe(1);
    const retried = await t.store.db.selectFrom("push_deliveries").selectAll().executeTakeFirstOrThrow();
    expect(retried).toMatchObject({ status: "pending", attempts: 1 });

    // the node restarts (a new queue on the same database) and the peer comes up
    const received: Array<{ path: string; body: string; from: string | undefined }> = [];
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        const headers = Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]),
        ) as Record<string, string | undefined>;
        void verifyNodeRequest({ method: "POST", path: req.url ?? "", body, headers }, t!.store.db).then(
          (v) => {
            received.push({ path: req.url ?? "", body, from: v.node.toLowerCase() });
            res.writeHead(204).end();
          },
          () => {
            received.push({ path: req.url ?? "", body, from: undefined });
            res.writeHead(401).end();
          },
        );
      });
    });
    await new Promise<void>((r) => server!.listen(port, "127.0.0.1", r));
    const after = queueOf();
    await new Promise((r) => setTimeout(r, 30));
    expect(await after.runOnce()).toBe(1);
    expect(received).toHaveLength(1);
    expect(received[0]!.path).toBe(GRANTS_PATH);
    expect(JSON.parse(received[0]!.body)).toEqual(terms);
    expect(received[0]!.from).toBe(node.address.toLowerCase());
    const delivered = await t.store.db.selectFrom("push_deliveries").selectAll().executeTakeFirstOrThrow();
    // delivered, and the terms are no longer kept in the queue
    expect(delivered).toMatchObject({ status: "delivered", attempts: 2, body: "" });
  });
});
