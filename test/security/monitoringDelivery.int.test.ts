import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadConfig } from "../../src/config/config.js";
import { DeviceSimulator } from "../../src/monitoring/simulator.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { grantForTreatment } from "../support/grants.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

interface Heard {
  messages: Array<{ type: string; alert: { id: string; patient: string } }>;
  socket: WebSocket;
}

/** Opens the alert WebSocket with a session token and records every message. */
function listen(url: string, token: string): Promise<Heard> {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/monitoring/alerts/ws`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const heard: Heard = { messages: [], socket };
  socket.on("message", (data: Buffer) => heard.messages.push(JSON.parse(data.toString("utf8")) as never));
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve(heard));
    socket.once("error", reject);
  });
}

/** The HTTP status an upgrade without a valid session gets (the socket never opens). */
function refusedUpgrade(url: string, headers: Record<string, string>): Promise<number> {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/monitoring/alerts/ws`, { headers });
  return new Promise((resolve, reject) => {
    socket.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("open", () => reject(new Error("the socket opened")));
    socket.once("error", () => undefined);
  });
}

/**
 * Attacks on alert delivery beyond the SSE stream, as a clinician without the patient's consent
 * would try them on a running node: their WebSocket and their REST hook get nothing while the
 * consented nurse's get the alert (and each delivery is in the patient's access log); the ward
 * board and the vitals view show them nothing and answer a real patient as an unknown one; a hook
 * aimed at the node's own network (loopback, private, link-local, metadata) is refused by the SSRF
 * rules; a socket without a valid session is never opened.
 */
describe.each(engines)("monitoring: alerts by WebSocket and REST hook (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-mondel-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  let receiver: Server;
  let receiverUrl = "";
  const received: Array<{ path: string; body: { type: string; alert: { id: string; patient: string } } }> =
    [];
  const patient = privateKeyToAccount(generatePrivateKey());
  const nurse = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const patientId = "mondel-1";
  let me: Session;
  let nurseS: Session;
  let strangerS: Session;
  let nurseWs: Heard;
  let strangerWs: Heard;
  let alertId: string;
  const sim = new DeviceSimulator({ seed: 3 });

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: JSON.parse(body) as never });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const port = (receiver.address() as AddressInfo).port;
    receiverUrl = `http://127.0.0.1:${port}`;
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig(
        {},
        {
          dataDir: dir,
          port: 0,
          databaseUrl: database?.url,
          anchorIntervalMs: 300,
          // the operator allows this one local integration engine; nothing else on the node's network
          hookAllow: `127.0.0.1:${port}`,
        },
      ),
      { logger: createLogger("silent") },
    );
    await registerParticipants(
      node,
      [],
      [
        { account: nurse.address, role: "nurse" },
        // a nurse of the same hospital whom the patient did not consent to
        { account: stranger.address, role: "nurse" },
      ],
    );
    const nurseAdmin = await signIn(node.url, nurse);
    const imported = await nurseAdmin.send(
      "POST",
      "/fhir",
      {
        resourceType: "Bundle",
        type: "collection",
        entry: [{ resource: { resourceType: "Patient", id: patientId } }],
      },
      undefined,
      { "x-patient-account": patient.address },
    );
    expect(imported.status).toBe(200);
    expect(
      (await grantForTreatment(node.url, patient, nurse.address, ["vitals", "device-readings"])).status,
    ).toBe(201);
    me = await signIn(node.url, patient);
    nurseS = await signIn(node.url, nurse);
    strangerS = await signIn(node.url, stranger);
    const res = await me.send("POST", "/monitoring/devices", {
      patient: patientId,
      publicKey: sim.keyOf(0).publicJwk,
      model: "home kit",
    });
    expect(res.status).toBe(201);
    sim.attach(0, ((await res.json()) as { deviceId: string }).deviceId);
  }, 120_000);

  afterAll(async () => {
    nurseWs?.socket.terminate();
    strangerWs?.socket.terminate();
    await node?.stop();
    await new Promise((r) => receiver?.close(r));
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("a hook aimed at the node's own network is refused by the SSRF rules", async () => {
    for (const url of [
      "http://127.0.0.1:9/hook",
      "http://localhost/hook",
      "http://[::1]/hook",
      "http://10.0.0.7/hook",
      "http://192.168.1.1/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::ffff:127.0.0.1]/hook",
      "file:///etc/passwd",
    ]) {
      const res = await strangerS.send("POST", "/monitoring/hooks", { url });
      expect([url, res.status]).toEqual([url, 400]);
    }
    expect(await (await strangerS.get("/monitoring/hooks")).json()).toEqual({ hooks: [] });
    // a patient registers no hook
    expect((await me.send("POST", "/monitoring/hooks", { url: `${receiverUrl}/patient` })).status).toBe(403);
  });

  it("a socket without a valid session is never opened", async () => {
    expect(await refusedUpgrade(node.url, {})).toBe(401);
    expect(await refusedUpgrade(node.url, { authorization: "Bearer not-a-token" })).toBe(401);
  });

  it("the alert reaches the consented nurse's socket and hook; the stranger's get nothing", async () => {
    expect((await nurseS.send("POST", "/monitoring/hooks", { url: `${receiverUrl}/nurse` })).status).toBe(
      201,
    );
    // the operator-allowed host is allowed to the stranger too: only consent keeps the alert from them
    expect(
      (await strangerS.send("POST", "/monitoring/hooks", { url: `${receiverUrl}/stranger` })).status,
    ).toBe(201);
    nurseWs = await listen(node.url, nurseS.token);
    strangerWs = await listen(node.url, strangerS.token);
    const post = (body: unknown) =>
      fetch(`${node.url}/monitoring/batches`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    for (let i = 0; i < 2; i++) expect((await post(sim.nextBatch(0, Date.now()))).status).toBe(200);
    sim.deteriorate(0);
    for (let i = 0; i < 20 && nurseWs.messages.length === 0; i++) {
      expect((await post(sim.nextBatch(0, Date.now()))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(nurseWs.messages[0]).toMatchObject({ type: "alert", alert: { patient: `Patient/${patientId}` } });
    alertId = nurseWs.messages[0]!.alert.id;
    for (let i = 0; i < 100 && !received.some((r) => r.path === "/nurse"); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(received.filter((r) => r.path === "/nurse").map((r) => r.body)).toEqual([
      {
        type: "alert",
        alert: expect.objectContaining({ id: alertId, patient: `Patient/${patientId}`, step: 0 }),
      },
    ]);
    // the hook body names the alert, never its clinical content
    expect(JSON.stringify(received)).not.toMatch(/news2|triggers|total/);
    // more readings, the acknowledgement and time for any late delivery
    for (let i = 0; i < 3; i++) expect((await post(sim.nextBatch(0, Date.now()))).status).toBe(200);
    expect((await nurseS.send("POST", `/monitoring/alerts/${alertId}/ack`, {})).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(nurseWs.messages.map((m) => m.type)).toContain("ack");
    expect(strangerWs.messages).toEqual([]);
    expect(received.filter((r) => r.path === "/stranger")).toEqual([]);
  });

  it("the stranger's ward board and vitals view show nothing, and answer as for an unknown patient", async () => {
    expect(await (await strangerS.get("/monitoring/ward")).json()).toEqual({ patients: [] });
    const real = await strangerS.get(`/monitoring/patients/${patientId}/vitals`);
    const unknown = await strangerS.get(`/monitoring/patients/nobody-here/vitals`);
    expect(real.status).toBe(404);
    expect(unknown.status).toBe(404);
    const strip = (b: unknown) => JSON.stringify(b).replace(/"id":"[^"]*"/g, "");
    expect(strip(await real.json())).toBe(strip(await unknown.json()));
    // the consented nurse's board has the patient, with the alert's score
    const board = (await (await nurseS.get("/monitoring/ward")).json()) as {
      patients: Array<{ patient: string; latest: { news2: { total: number } | null } }>;
    };
    expect(board.patients.map((p) => p.patient)).toEqual([`Patient/${patientId}`]);
    expect(board.patients[0]!.latest.news2?.total).toBeGreaterThanOrEqual(5);
  });

  it("each delivery, by socket and by hook, is an entry of the patient's access log; none names the stranger", async () => {
    type Item = {
      entry: { actor: { account: string }; resources?: string[] };
      opening: { reason?: string } | null;
    };
    let about: Item[] = [];
    for (let i = 0; i < 100; i++) {
      const body = (await (await me.get("/audit/me?limit=1000")).json()) as { items: Item[] };
      about = body.items.filter((it) => it.entry.resources?.includes(`Flag/${alertId}`));
      if (about.some((a) => a.opening?.reason === "monitoring alert delivered by REST hook")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const lines = about.map((a) => `${a.opening?.reason}:${a.entry.actor.account}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        `monitoring alert delivered:${nurse.address}`,
        `monitoring alert delivered by REST hook:${nurse.address}`,
        `monitoring alert acknowledged:${nurse.address}`,
      ]),
    );
    expect(lines.filter((l) => l.endsWith(stranger.address))).toEqual([]);
  });
});
