import { describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { buildRevokeMessage, signRevoke } from "../../../src/consent/signConsent.js";
import { verifyNodeRequest } from "../../../src/federation/nodeAuth.js";
import { careNode, until } from "../../support/careNode.js";
import { sseReader } from "../../support/sse.js";
import { signIn } from "../../support/session.js";
import { engines } from "../../support/stores.js";

/**
 * Scenario 3, subscriptions, on a real node (anvil + SQLite or PostgreSQL): a GP with a labs grant
 * is pushed new labs over SSE within 1 s, never a mental-health result; REST hooks are retried and
 * delivered once; a revoke ends the subscription and closes the stream.
 */
describe.each(engines)("subscriptions (%s)", (engine) => {
  const care = careNode(engine);
  const { patient, gp, stranger, domain, nonce } = care;
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
    subject: { reference: `Patient/${care.patientId}` },
    effectiveDateTime: "2024-05-01T10:00:00Z",
  });

  it("refuses a subscription without a grant (403) and a non-http endpoint (400)", async () => {
    const { node, gpSession } = care;
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
    const { node, doc, gpSession, me } = care;
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
    const { node, gpSession } = care;
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
    const { node, hooks, doc, gpSession } = care;
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
    const { node, gpSession, me } = care;
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
    // the patient's subscriptions end one after the other; this stream's may be the first
    const allEnded = async () =>
      (
        (await (await gpSession.get("/subscriptions")).json()).subscriptions as Array<{
          status: string;
          endReason: string;
        }>
      ).every((s) => s.status === "ended" && s.endReason === "consent revoked");
    expect(await until(allEnded, 5000)).toBe(true);
    // a stream opened after the end gets the final event and closes
    const late = sseReader(await gpSession.get(`/subscriptions/${sseSubscription}/events`));
    expect((await late.next(0, 2000))?.event).toBe("ended");
    expect(await until(() => late.isDone(), 2000)).toBe(true);
  });
});
