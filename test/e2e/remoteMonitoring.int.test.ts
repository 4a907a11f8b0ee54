import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, toHex, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyEntryProof, type EntryProof } from "../../src/audit/entryProof.js";
import { loadConfig } from "../../src/config/config.js";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import type { Action, Category } from "../../src/model/vocabulary.js";
import { batchSigner } from "../../src/monitoring/batch.js";
import { generateDeviceKey } from "../../src/monitoring/deviceKeys.js";
import { DeviceSimulator } from "../../src/monitoring/simulator.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { writeKeystoreFile } from "../../src/crypto/keystore.js";
import { runCli } from "../support/cli.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";
import { sseReader } from "../support/sse.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

interface LogItem {
  index: number;
  entry: {
    action: string;
    decision: string;
    actor: { account: string };
    resources?: string[];
  };
  /** The opening of the entry's commitment: its reason and categories, for the patient. */
  opening: { reason?: string } | null;
  proof: EntryProof | null;
}

/**
 * The must-show, end to end on a running node: a simulated patient deteriorates; the
 * consented nurse's live stream has the alert within 1 s; a clinician without consent learns
 * nothing through any API; the unacknowledged alert escalates to the physician, who acknowledges
 * it; the alert, its deliveries, the escalation and the acknowledgement are in the patient's
 * access log with inclusion proofs to the anchored root.
 */
describe.each(engines)("remote patient monitoring (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-rpm-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  const patient = privateKeyToAccount(generatePrivateKey());
  const nurseKey = generatePrivateKey();
  const nurse = privateKeyToAccount(nurseKey);
  const physician = privateKeyToAccount(generatePrivateKey());
  const strangerKey = generatePrivateKey();
  const stranger = privateKeyToAccount(strangerKey);
  const otherClinic = keccak256(toHex(`rpm-other-${engine}`));
  const patientId = "rpm-pat-1";
  let me: Session;
  let nurseS: Session;
  let physicianS: Session;
  let strangerS: Session;
  let deviceId: string;
  let alertId: string;
  const sim = new DeviceSimulator({ seed: 1 });

  async function grant(to: Address, categories: Category[], actions: Action[]) {
    const domain = (await (await fetch(`${node.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: to },
      categories,
      purposes: ["TREAT"],
      actions,
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
    const res = await fetch(`${node.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
    });
    expect(res.status).toBe(201);
  }

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 300 }),
      { logger: createLogger("silent") },
    );
    await registerParticipants(
      node,
      [{ id: otherClinic, name: "Other Clinic" }],
      [
        { account: nurse.address, role: "nurse" },
        { account: physician.address, role: "physician" },
        // a nurse of the same hospital, whom the patient did not consent to
        { account: stranger.address, role: "nurse" },
      ],
    );
    const admin = await signIn(node.url, physician);
    const imported = await admin.send(
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
    await grant(nurse.address, ["vitals", "device-readings"], ["read"]);
    await grant(physician.address, ["vitals", "device-readings"], ["read", "write"]);
    me = await signIn(node.url, patient);
    nurseS = await signIn(node.url, nurse);
    physicianS = await signIn(node.url, physician);
    strangerS = await signIn(node.url, stranger);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("the patient registers a device; the care team sets the escalation chain", async () => {
    const key = sim.keyOf(0);
    const res = await me.send("POST", "/monitoring/devices", {
      patient: patientId,
      publicKey: key.publicJwk,
      model: "home kit",
    });
    expect(res.status).toBe(201);
    deviceId = ((await res.json()) as { deviceId: string }).deviceId;
    expect(
      (
        await strangerS.send("POST", "/monitoring/devices", {
          patient: patientId,
          publicKey: key.publicJwk,
          model: "x",
        })
      ).status,
    ).toBe(404);
    const set = await physicianS.send("PUT", `/monitoring/patients/${patientId}/settings`, {
      escalation: [{ role: "nurse" }, { role: "physician" }],
      escalateAfterSeconds: 2,
    });
    expect(set.status).toBe(200);
    expect((await nurseS.send("PUT", `/monitoring/patients/${patientId}/settings`, {})).status).toBe(404);
  });

  it("a deteriorating patient's alert reaches the consented nurse's stream within 1 s, and nobody else", async () => {
    sim.attach(0, deviceId);
    const nurseStream = sseReader(await nurseS.get("/monitoring/alerts/stream"));
    const strangerStream = sseReader(await strangerS.get("/monitoring/alerts/stream"));
    const physicianStream = sseReader(await physicianS.get("/monitoring/alerts/stream"));
    const post = (body: unknown) =>
      fetch(`${node.url}/monitoring/batches`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    // a calm minute, then the episode
    for (let i = 0; i < 3; i++) expect((await post(sim.nextBatch(0, Date.now()))).status).toBe(200);
    expect(nurseStream.frames).toEqual([]);
    sim.deteriorate(0);
    let sentAt = 0;
    for (let i = 0; i < 20 && nurseStream.frames.length === 0; i++) {
      sentAt = Date.now();
      const res = await post(sim.nextBatch(0, Date.now()));
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    const frame = await nurseStream.next(0, 5000);
    expect(frame?.event).toBe("alert");
    expect(frame!.at - sentAt).toBeLessThan(1000);
    alertId = (frame!.data as { id: string }).id;
    expect(frame!.data).toMatchObject({ patient: `Patient/${patientId}`, step: 0 });
    expect(strangerStream.frames).toEqual([]);
    // the physician is the chain's second step: nothing yet
    expect(physicianStream.frames).toEqual([]);

    // nobody acknowledges: after 2 s it escalates to the physician
    const escalated = await physicianStream.next(0, 6000);
    expect(escalated).toMatchObject({ event: "alert", data: { id: alertId, step: 1 } });
    expect(strangerStream.frames).toEqual([]);
  });

  it("a clinician without consent finds nothing of it through any API", async () => {
    expect(await (await strangerS.get("/monitoring/alerts")).json()).toEqual([]);
    expect((await strangerS.send("POST", `/monitoring/alerts/${alertId}/ack`, {})).status).toBe(404);
    expect(
      (await strangerS.send("POST", `/monitoring/alerts/al-000000000000000000000000/ack`, {})).status,
    ).toBe(404);
    const obs = (await (await strangerS.get(`/fhir/Observation?patient=${patientId}`)).json()) as {
      total: number;
    };
    expect(obs.total).toBe(0);
    const devices = (await (await strangerS.get(`/fhir/Device?patient=${patientId}`)).json()) as {
      total: number;
    };
    expect(devices.total).toBe(0);
    expect((await strangerS.get(`/monitoring/devices/${deviceId}`)).status).toBe(404);
    expect((await strangerS.get(`/monitoring/patients/${patientId}/settings`)).status).toBe(404);
    // the consented nurse sees the readings and the score as FHIR Observations
    const nurseObs = (await (
      await nurseS.get(`/fhir/Observation?patient=${patientId}&code=http://loinc.org|8867-4`)
    ).json()) as {
      total: number;
      entry: { resource: { code: { coding: { code: string }[] } } }[];
    };
    expect(nurseObs.total).toBeGreaterThan(3);
    expect(nurseObs.entry[0]!.resource.code.coding[0]!.code).toBe("8867-4");
    expect(
      ((await (await nurseS.get("/monitoring/alerts?open=true")).json()) as { id: string }[]).map(
        (a) => a.id,
      ),
    ).toContain(alertId);
  });

  it("the CLI lists the alert for the nurse and nothing for the stranger", async () => {
    const cli = async (key: `0x${string}`, name: string) => {
      const file = join(dir, `${name}.keystore.json`);
      await writeKeystoreFile(file, key, "password-1", { n: 2 ** 10 });
      return runCli(["monitor", "alerts", "--open", "--node", node.url], {
        CARECHAIN_KEYSTORE: file,
        CARECHAIN_PASSWORD: "password-1",
      });
    };
    const mine = await cli(nurseKey, "nurse");
    expect(mine.code).toBe(0);
    expect((JSON.parse(mine.stdout) as { id: string }[]).map((a) => a.id)).toContain(alertId);
    const theirs = await cli(strangerKey, "stranger");
    expect(theirs.code).toBe(0);
    expect(JSON.parse(theirs.stdout)).toEqual([]);
  });

  it("the physician acknowledges; alert, deliveries, escalation and ack are in the patient's log with proofs", async () => {
    const ack = await physicianS.send("POST", `/monitoring/alerts/${alertId}/ack`, {});
    expect(ack.status).toBe(200);
    expect(((await ack.json()) as { acknowledged: { by: string } }).acknowledged.by).toBe(
      physician.address.toLowerCase(),
    );
    await node.services.audit.flush();
    const size = node.services.audit.size();
    const deadline = Date.now() + 15_000;
    let items: LogItem[] = [];
    for (;;) {
      const body = (await (await me.get("/audit/me?limit=1000")).json()) as {
        items: LogItem[];
        anchoredSize: number;
      };
      items = body.items;
      if (body.anchoredSize >= size) break;
      if (Date.now() > deadline) throw new Error("the log was not anchored in time");
      await new Promise((r) => setTimeout(r, 100));
    }
    const about = items.filter((i) => i.entry.resources?.includes(`Flag/${alertId}`));
    expect(about.map((i) => `${i.opening?.reason}:${i.entry.actor.account}`)).toEqual(
      expect.arrayContaining([
        `monitoring alert delivered:${nurse.address}`,
        `monitoring alert delivered:${physician.address}`,
        "monitoring alert escalated to step 1:0x0000000000000000000000000000000000000000",
        `monitoring alert acknowledged:${physician.address}`,
      ]),
    );
    expect(about.some((i) => i.opening?.reason === "monitoring alert raised")).toBe(true);
    expect(about.some((i) => i.entry.actor.account === stranger.address)).toBe(false);
    const { publicClient } = node.context.clients;
    for (const item of about) {
      expect(item.proof).not.toBeNull();
      expect(await verifyEntryProof(item.proof!, publicClient, node.context.deployment.auditAnchor)).toEqual({
        ok: true,
        anchoredRoot: item.proof!.rootHash,
      });
    }
  });

  it("answers bad batches over HTTP with a clear reason, and counts them for the device", async () => {
    const stray = generateDeviceKey();
    const body = batchSigner(stray.privatePem)({
      device: deviceId,
      batchId: "forged-1",
      sentAt: Date.now(),
      readings: [{ kind: "spo2", value: 99, unit: "%", at: Date.now() }],
    });
    const res = await fetch(`${node.url}/monitoring/batches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(401);
    expect(JSON.stringify(await res.json())).toContain("batch signature does not verify");
    const device = (await (await me.get(`/monitoring/devices/${deviceId}`)).json()) as {
      refusals: Record<string, number>;
    };
    expect(device.refusals["bad-signature"]).toBe(1);
  });
});
