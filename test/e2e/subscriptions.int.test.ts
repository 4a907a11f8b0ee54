import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { keccak256, toHex, type Hex } from "viem";
import { ParticipantAdmin } from "../../src/chain/participantAdmin.js";
import { loadConfig } from "../../src/config/config.js";
import {
  buildGrantMessage,
  buildRevokeMessage,
  signGrant,
  signRevoke,
  signedGrantToJson,
} from "../../src/consent/signConsent.js";
import { signNodeRequest, verifyNodeRequest } from "../../src/federation/nodeAuth.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { sseReader } from "../support/sse.js";
import { signIn, type Session } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A stand-in for a practitioner's app / another node: fails the first hook attempt, then accepts. */
async function hookServer(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  let hookCalls = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const status = req.url === "/hook" && hookCalls++ === 0 ? 500 : 200;
      received.push({ path: req.url ?? "", headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const until = async (check: () => Promise<boolean> | boolean, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};

/**
 * Scenario 3, part B on a real node (anvil + SQLite or PostgreSQL): a GP with a labs grant is
 * pushed new labs over SSE within 1 s, never a mental-health result; REST hooks are retried and
 * delivered once; a revoke ends the subscription and closes the stream; a referral becomes
 * accepted when the patient grants the receiving organization, which gets a node-signed notice.
 */
describe.each(engines)("subscriptions and referrals (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-s3b-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  let hooks: Awaited<ReturnType<typeof hookServer>>;
  const patient = privateKeyToAccount(generatePrivateKey());
  const gp = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const hospitalDoc = privateKeyToAccount(generatePrivateKey());
  const clinicNode = privateKeyToAccount(generatePrivateKey());
  const clinic = keccak256(toHex(`gp-clinic-${engine}`));
  const otherClinic = keccak256(toHex(`other-clinic-${engine}`));
  const patientId = "sub-patient-1";
  let doc: Session;
  let gpSession: Session;
  let me: Session;
  let sseSubscription: string;
  let stream: ReturnType<typeof sseReader>;
  let n = 0;

  const lab = (id: string, security?: string) => ({
    resourceType: "Observation",
    id,
    ...(security
      ? {
          meta: {
            security: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: security }],
          },
        }
      : {}),
    status: "final",
    category: [
      {
        coding: [
          { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
        ],
      },
    ],
    code: { coding: [{ system: "http://loinc.org", code: "2345-7" }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: "2024-05-01T10:00:00Z",
  });
  const domain = async () =>
    (await (await fetch(`${node.url}/consents/domain`)).json()) as Parameters<typeof signGrant>[1];
  const nonce = async () =>
    BigInt((await (await fetch(`${node.url}/consents/nonce/${patient.address}`)).json()).nonce);

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    hooks = await hookServer();
    node = await startNode(
      // The hook receiver runs on loopback, which REST hooks may reach only when the operator allows it.
      loadConfig(
        {},
        { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 500, hookAllow: "127.0.0.1" },
      ),
      { logger: createLogger("silent") },
    );
    const { outbox, organizationId, indexer } = node.context;
    const admin = new ParticipantAdmin(outbox);
    const intents = [
      await admin.registerOrganization({
        id: clinic,
        name: "Elm Street GP",
        kind: "clinic",
        endpoint: hooks.url,
        node: clinicNode.address,
      }),
      await admin.registerOrganization({
        id: otherClinic,
        name: "Other Clinic",
        kind: "clinic",
        endpoint: "http://127.0.0.1:2",
        node: privateKeyToAccount(generatePrivateKey()).address,
      }),
    ];
    await outbox.waitFor(`register-organization:${organizationId}`, 15_000);
    intents.push(await admin.addPractitioner(clinic, gp.address, "physician"));
    intents.push(await admin.addPractitioner(otherClinic, stranger.address, "physician"));
    intents.push(await admin.addPractitioner(organizationId, hospitalDoc.address, "physician"));
    let last = 0;
    for (const i of intents) last = Math.max(last, (await outbox.waitFor(i.id, 15_000)).block_number ?? 0);
    await indexer.waitForBlock(BigInt(last), 10_000);

    doc = await signIn(node.url, hospitalDoc);
    const created = await doc.send("POST", "/fhir/Patient", {
      resourceType: "Patient",
      id: patientId,
      identifier: [{ system: "https://carechain.dev/fhir/sid/account", value: patient.address }],
    });
    expect(created.status).toBe(201);
    me = await signIn(node.url, patient);
    gpSession = await signIn(node.url, gp);

    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "medications"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
      nonce: await nonce(),
    });
    const granted = await fetch(`${node.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, await domain(), message))),
    });
    expect(granted.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await new Promise((r) => hooks?.server.close(r));
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("refuses a subscription without a grant (403) and a non-http endpoint (400)", async () => {
    const s = await signIn(node.url, stranger);
    const res = await s.send(
      "POST",
      "/subscriptions",
      { patient: patient.address, categories: ["labs"], channel: "sse" },
      "TREAT",
    );
    expect(res.status).toBe(403);
    expect((await res.json()).issue[0].diagnostics).toMatch(/not permitted to subscribe: no-grant/);
    const bad = await gpSession.send(
      "POST",
      "/subscriptions",
      {
        patient: patient.address,
        categories: ["labs"],
        channel: "rest-hook",
        endpoint: "file:///etc/passwd",
      },
      "TREAT",
    );
    expect(bad.status).toBe(400);
    // Internal targets (SSRF): refused unless the operator allowed the host (only 127.0.0.1 here).
    for (const endpoint of [
      "http://169.254.169.254/latest/meta-data",
      "http://10.1.2.3/hook",
      "http://localhost:1/x",
    ]) {
      const internal = await gpSession.send(
        "POST",
        "/subscriptions",
        { patient: patient.address, categories: ["labs"], channel: "rest-hook", endpoint },
        "TREAT",
      );
      expect(internal.status).toBe(400);
      const outcome = await internal.json();
      expect(outcome.resourceType).toBe("OperationOutcome");
      expect(outcome.issue[0].diagnostics).toMatch(/endpoint must be a public address/);
    }
    // labs are granted, mental health is not: the whole subscription is refused
    const sensitive = await gpSession.send(
      "POST",
      "/subscriptions",
      { patient: patient.address, categories: ["labs", "mental-health"], channel: "sse" },
      "TREAT",
    );
    expect(sensitive.status).toBe(403);
  });

  it("pushes a new lab to the GP's SSE stream within 1 s, and never a mental-health result", async () => {
    const res = await gpSession.send(
      "POST",
      "/subscriptions",
      { patient: patient.address, categories: ["labs"], channel: "sse" },
      "TREAT",
    );
    expect(res.status).toBe(201);
    sseSubscription = (await res.json()).id;
    const events = await gpSession.get(`/subscriptions/${sseSubscription}/events`);
    expect(events.status).toBe(200);
    expect(events.headers.get("content-type")).toMatch(/^text\/event-stream/);
    stream = sseReader(events);

    expect((await doc.send("POST", "/fhir/Observation", lab("psy-1", "PSY"))).status).toBe(201);
    const started = Date.now();
    expect((await doc.send("POST", "/fhir/Observation", lab(`lab-${++n}`))).status).toBe(201);
    const first = await stream.next(0, 3000);
    expect(first?.event).toBe("notification");
    expect(first?.data.resource).toBe(`Observation/lab-${n}/_history/1`);
    expect(first?.data).not.toHaveProperty("valueQuantity");
    const latencyMs = first!.at - started;
    console.info(`SSE notification latency (${engine}): ${latencyMs} ms`);
    expect(latencyMs).toBeLessThan(1000);
    await node.services.subscriptions.idle();
    expect(stream.frames.every((f) => !String(f.data.resource).includes("psy-1"))).toBe(true);

    // the subscriber reads the referenced version through the normal, audited read path
    expect((await gpSession.get(`/fhir/Observation/lab-${n}/_history/1`, "TREAT")).status).toBe(200);
    await node.services.audit.flush();
    const log = await (await me.get("/audit/me?limit=1000")).json();
    const shares = log.items.filter(
      (i: { entry: { action: string; actor: { account: string }; resources?: string[] } }) =>
        i.entry.action === "share" &&
        i.entry.actor.account === gp.address &&
        i.entry.resources?.[0] === `Observation/lab-${n}/_history/1`,
    );
    expect(shares).toHaveLength(1);
  });

  it("resumes from Last-Event-ID with the stored events", async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${node.url}/subscriptions/${sseSubscription}/events`, {
      headers: { authorization: `Bearer ${gpSession.token}`, "last-event-id": "0" },
      signal: ctrl.signal,
    });
    const replay = sseReader(res);
    const first = await replay.next(0, 2000);
    expect(first?.id).toBe(stream.frames[0]?.id);
    expect(first?.data.resource).toBe(stream.frames[0]?.data.resource);
    ctrl.abort();
  });

  it("retries a failing REST hook and delivers it once", async () => {
    const res = await gpSession.send(
      "POST",
      "/subscriptions",
      { patient: patient.address, categories: ["labs"], channel: "rest-hook", endpoint: `${hooks.url}/hook` },
      "TREAT",
    );
    expect(res.status).toBe(201);
    const { id } = await res.json();
    expect((await doc.send("POST", "/fhir/Observation", lab(`lab-${++n}`))).status).toBe(201);
    const hookOk = () => hooks.received.filter((r) => r.path === "/hook" && r.status === 200);
    expect(await until(() => hookOk().length === 1, 10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));
    const calls = hooks.received.filter((r) => r.path === "/hook");
    expect(calls.map((c) => c.status)).toEqual([500, 200]);
    const body = JSON.parse(hookOk()[0]!.body);
    expect(body).toMatchObject({
      type: "notification",
      subscriptionId: id,
      resource: `Observation/lab-${n}/_history/1`,
    });
    // node-signed, so a peer node can verify who pushed it
    const verified = await verifyNodeRequest(
      { method: "POST", path: "/hook", body: hookOk()[0]!.body, headers: hookOk()[0]!.headers },
      node.context.store.db,
    );
    expect(verified.organization.id).toBe(node.context.organizationId.toLowerCase());
    const list = (await (await gpSession.get("/subscriptions")).json()).subscriptions;
    expect(list.map((s: { id: string }) => s.id)).toContain(id);
  });

  it("ends the subscriptions and closes the stream when the patient revokes", async () => {
    const grant = (await (await me.get("/consents")).json()).grants[0];
    const message = buildRevokeMessage({
      patient: patient.address,
      grantId: grant.grantId as Hex,
      nonce: await nonce(),
    });
    const signature = await signRevoke(patient, await domain(), message);
    const res = await fetch(`${node.url}/consents/revoke?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        revoke: { patient: message.patient, grantId: message.grantId, nonce: message.nonce.toString() },
        signature,
      }),
    });
    expect(res.status).toBe(200);
    expect(await until(() => stream.isDone(), 5000)).toBe(true);
    const final = stream.frames.at(-1);
    expect(final?.event).toBe("ended");
    expect(final?.data.reason).toBe("consent revoked");
    const list = (await (await gpSession.get("/subscriptions")).json()).subscriptions;
    expect(
      list.every(
        (s: { status: string; endReason: string }) =>
          s.status === "ended" && s.endReason === "consent revoked",
      ),
    ).toBe(true);
    // a stream opened after the end gets the final event and closes
    const late = sseReader(await gpSession.get(`/subscriptions/${sseSubscription}/events`));
    expect((await late.next(0, 2000))?.event).toBe("ended");
    expect(await until(() => late.isDone(), 2000)).toBe(true);
  });

  it("moves a referral from requested to accepted when the patient grants the receiving organization", async () => {
    const created = await doc.send("POST", "/referrals", {
      patient: patient.address,
      toOrganization: clinic,
      categories: ["labs"],
      reasonCode: "183444007",
    });
    expect(created.status).toBe(201);
    const referral = await created.json();
    expect(referral.status).toBe("requested");
    // free text is refused: codes only
    const text = await doc.send("POST", "/referrals", {
      patient: patient.address,
      toOrganization: clinic,
      categories: ["labs"],
      reasonCode: "chest pain",
    });
    expect(text.status).toBe(400);
    // only practitioners of this node's organization refer from here
    expect(
      (
        await gpSession.send("POST", "/referrals", {
          patient: patient.address,
          toOrganization: otherClinic,
          categories: ["labs"],
        })
      ).status,
    ).toBe(403);

    const mine = (await (await me.get("/referrals")).json()).referrals;
    expect(mine.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([
      [referral.id, "requested"],
    ]);

    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "organization", organization: clinic },
      categories: ["labs"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
      nonce: await nonce(),
    });
    const granted = await fetch(`${node.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, await domain(), message))),
    });
    expect(granted.status).toBe(201);
    expect(
      await until(
        async () => (await (await me.get("/referrals")).json()).referrals[0]?.status === "accepted",
        5000,
      ),
    ).toBe(true);
    const gpView = (await (await gpSession.get("/referrals")).json()).referrals;
    expect(gpView[0]).toMatchObject({
      id: referral.id,
      status: "accepted",
      toOrganization: clinic.toLowerCase(),
    });

    // the receiving organization's node gets a node-signed notice
    expect(
      await until(() => hooks.received.some((r) => r.path === "/federation/referral-notice"), 5000),
    ).toBe(true);
    const notice = hooks.received.find((r) => r.path === "/federation/referral-notice")!;
    expect(JSON.parse(notice.body)).toMatchObject({
      referralId: referral.id,
      status: "accepted",
      reasonCode: "183444007",
    });
    const sender = await verifyNodeRequest(
      { method: "POST", path: "/federation/referral-notice", body: notice.body, headers: notice.headers },
      node.context.store.db,
    );
    expect(sender.node).toBe(node.context.key.account.address);
  });

  it("accepts a node-signed referral notice from the referring organization only", async () => {
    const body = JSON.stringify({
      referralId: "7d1f6c3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
      patient: patient.address,
      fromOrganization: clinic,
      toOrganization: node.context.organizationId,
      categories: ["labs"],
      status: "accepted",
      time: new Date().toISOString(),
    });
    const post = async (headers: Record<string, string>) =>
      fetch(`${node.url}/federation/referral-notice`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
    expect((await post({})).status).toBe(401);
    const signed = await signNodeRequest(clinicNode, {
      method: "POST",
      path: "/federation/referral-notice",
      body,
    });
    expect((await post(signed)).status).toBe(200);
    const inbound = (await (await doc.get("/referrals")).json()).referrals.find(
      (r: { direction: string }) => r.direction === "inbound",
    );
    expect(inbound).toMatchObject({ fromOrganization: clinic.toLowerCase(), status: "accepted" });
  });
});
