import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { keccak256, toHex, type Hex } from "viem";
import { loadConfig } from "../../src/config/config.js";
import {
  buildGrantMessage,
  buildRevokeMessage,
  signGrant,
  signRevoke,
  signedGrantToJson,
} from "../../src/consent/signConsent.js";
import { decryptRecord } from "../../src/crypto/envelope.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";

const fixture = (name: string) => {
  const file = readdirSync(join(import.meta.dirname, "..", "fixtures", "synthea")).find((f) =>
    f.startsWith(name),
  );
  return JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "synthea", file!), "utf8")) as {
    entry: Array<{
      resource: { resourceType: string; id: string; category?: Array<{ coding?: Array<{ code?: string }> }> };
    }>;
  };
};

/**
 * Scenario 1 end to end on a real node (anvil + SQLite or PostgreSQL): a patient grants a GP labs
 * and medications for treatment; the GP reads; sensitive data stays hidden (also from totals); an
 * unrelated practitioner sees nothing; a revoke is enforced within 2 s of being mined; break-glass
 * works only when the patient allows it; erase crypto-shreds the record.
 */
describe.each(engines)("primary care (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-s1-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  const patient = privateKeyToAccount(generatePrivateKey());
  const gp = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const hospitalDoc = privateKeyToAccount(generatePrivateKey());
  const clinic = keccak256(toHex("gp-clinic"));
  const otherClinic = keccak256(toHex("other-clinic"));
  const bundle = fixture("Alfreda_Wyman");
  const patientId = bundle.entry[0]!.resource.id;
  const lab = bundle.entry.find(
    (e) =>
      e.resource.resourceType === "Observation" &&
      e.resource.category?.[0]?.coding?.[0]?.code === "laboratory",
  )!.resource;
  const labCount = bundle.entry.filter(
    (e) =>
      e.resource.resourceType === "Observation" &&
      e.resource.category?.[0]?.coding?.[0]?.code === "laboratory",
  ).length;
  let doc: Session;
  let me: Session;

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 500 }),
      { logger: createLogger("silent") },
    );
    await registerParticipants(
      node,
      [
        { id: clinic, name: "Elm Street GP" },
        { id: otherClinic, name: "Other Clinic", endpoint: "http://127.0.0.1:2" },
      ],
      [
        { organization: clinic, account: gp.address, role: "physician" },
        { organization: otherClinic, account: stranger.address, role: "physician" },
        { account: hospitalDoc.address, role: "physician" },
      ],
    );

    doc = await signIn(node.url, hospitalDoc);
    const imported = await doc.send("POST", "/fhir", bundle, undefined, {
      "x-patient-account": patient.address,
    });
    expect(imported.status).toBe(200);
    // a lab result labelled psychiatric (HL7 v3 ActCode PSY): labs + mental-health
    const sensitive = await doc.send("POST", "/fhir/Observation", {
      resourceType: "Observation",
      id: "psy-lab-1",
      meta: { security: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "PSY" }] },
      status: "final",
      category: [
        {
          coding: [
            { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
          ],
        },
      ],
      code: { coding: [{ system: "http://loinc.org", code: "3426-4" }] },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: "2019-05-01T10:00:00Z",
    });
    expect(sensitive.status).toBe(201);
    me = await signIn(node.url, patient);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  const grantToGp = async () => {
    const domain = (await (await fetch(`${node.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "medications"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
    return { domain, message, signature: await signGrant(patient, domain, message) };
  };

  it("imports a Synthea bundle that is searchable by its author", async () => {
    const res = await doc.get(`/fhir/Observation?patient=${patientId}&category=laboratory&_count=1`);
    expect(res.status).toBe(200);
    const body = await res.json();
    // the authoring organization's physician sees its labs, not the psychiatric one (sensitive:
    // the patient's grant only, docs/access-rules.md)
    expect(body.total).toBe(labCount);
    expect(body.entry).toHaveLength(1);
    expect(body.link.some((l: { relation: string }) => l.relation === "next")).toBe(true);
    const withPatient = await (
      await doc.get(`/fhir/Observation?patient=${patientId}&_count=2&_include=Observation:patient`)
    ).json();
    const included = withPatient.entry.filter(
      (e: { search: { mode: string } }) => e.search.mode === "include",
    );
    expect(included.map((e: { resource: { resourceType: string } }) => e.resource.resourceType)).toEqual([
      "Patient",
    ]);
  });

  it("lets the GP read labs under the patient's grant, and nothing sensitive", async () => {
    const gpSession = await signIn(node.url, gp);
    // without a grant the lab is hidden: it answers as a missing one (404)
    expect((await gpSession.get(`/fhir/Observation/${lab.id}`)).status).toBe(404);

    const { domain, message, signature } = await grantToGp();
    const submitted = await fetch(`${node.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, signature)),
    });
    expect(submitted.status).toBe(201);
    void domain;

    const read = await gpSession.get(`/fhir/Observation/${lab.id}`, "TREAT");
    expect(read.status).toBe(200);
    expect((await read.json()).id).toBe(lab.id);

    const psy = await gpSession.get(`/fhir/Observation/psy-lab-1`);
    expect(psy.status).toBe(404);
    const outcome = await psy.json();
    expect(outcome.resourceType).toBe("OperationOutcome");
    // nothing tells the GP that it exists, or that it is sensitive
    expect(outcome.issue[0].diagnostics).toBe("no Observation with this id");

    const search = await (
      await gpSession.get(`/fhir/Observation?patient=${patientId}&category=laboratory&_total=accurate`)
    ).json();
    expect(search.total).toBe(labCount);
    expect(search.entry.every((e: { resource: { id: string } }) => e.resource.id !== "psy-lab-1")).toBe(true);
    // _include passes the same decision: the grant does not cover demographics
    const withPatient = await (
      await gpSession.get(`/fhir/Observation?patient=${patientId}&_include=Observation:patient`)
    ).json();
    expect(withPatient.entry.some((e: { search: { mode: string } }) => e.search.mode === "include")).toBe(
      false,
    );

    // wrong purpose: the grant is for TREAT only
    expect((await gpSession.get(`/fhir/Observation/${lab.id}`, "HPAYMT")).status).toBe(404);
    // replaying the same signed grant is refused
    const replay = await fetch(`${node.url}/consents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, signature)),
    });
    expect(replay.status).toBe(409);
  });

  it("refuses an unrelated practitioner everything, and their search counts nothing", async () => {
    const s = await signIn(node.url, stranger);
    expect((await s.get(`/fhir/Observation/${lab.id}`)).status).toBe(404);
    expect((await s.get(`/fhir/Patient/${patientId}`)).status).toBe(404);
    const search = await (await s.get(`/fhir/Observation?patient=${patientId}`)).json();
    expect(search.total).toBe(0);
    // hidden equals missing: the answer of a Patient id that does not exist
    const everything = await s.get(`/fhir/Patient/${patientId}/$everything`);
    const unknown = await s.get(`/fhir/Patient/no-such-patient/$everything`);
    expect(everything.status).toBe(404);
    expect((await everything.text()).replace(patientId, "ID")).toBe(
      (await unknown.text()).replace("no-such-patient", "ID"),
    );
  });

  it("logs every read and denial in the patient's access log", async () => {
    await node.services.audit.flush();
    const log = await (await me.get(`/audit/me?limit=1000`)).json();
    const actions = log.items.map(
      (i: { entry: { action: string; actor: { account: string } } }) =>
        `${i.entry.action}:${i.entry.actor.account}`,
    );
    expect(actions).toContain(`read:${gp.address}`);
    expect(actions).toContain(`deny:${stranger.address}`);
  });

  it("enforces a revoke within 2 s of it being mined", async () => {
    const gpSession = await signIn(node.url, gp);
    const grant = (await (await me.get("/consents")).json()).grants[0];
    const domain = (await (await fetch(`${node.url}/consents/domain`)).json()) as Parameters<
      typeof signRevoke
    >[1];
    const nonce = BigInt((await (await fetch(`${node.url}/consents/nonce/${patient.address}`)).json()).nonce);
    const message = buildRevokeMessage({ patient: patient.address, grantId: grant.grantId as Hex, nonce });
    const signature = await signRevoke(patient, domain, message);
    const res = await fetch(`${node.url}/consents/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        revoke: { patient: message.patient, grantId: message.grantId, nonce: message.nonce.toString() },
        signature,
      }),
    });
    expect(res.status).toBe(202);
    const row = await node.context.outbox.waitFor((await res.json()).outboxId, 15_000);
    const mined = Date.now();
    let status = 0;
    while (Date.now() - mined < 2000) {
      status = (await gpSession.get(`/fhir/Observation/${lab.id}`)).status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(404);
    expect(row.status).toBe("confirmed");
  });

  it("allows break-glass only when the patient allows it, and flags the patient", async () => {
    const s = await signIn(node.url, stranger);
    const refused = await s.send(
      "POST",
      "/break-glass",
      { patient: patient.address, reason: "unconscious in ER" },
      "ETREAT",
    );
    expect(refused.status).toBe(403);
    expect((await me.send("PUT", "/patients/me/settings", { breakGlassAllowed: true })).status).toBe(200);
    const noReason = await s.send("POST", "/break-glass", { patient: patient.address, reason: "" }, "ETREAT");
    expect(noReason.status).toBe(400);
    const opened = await s.send(
      "POST",
      "/break-glass",
      { patient: patient.address, reason: "unconscious in ER" },
      "ETREAT",
    );
    expect(opened.status).toBe(201);
    expect((await s.get(`/fhir/Observation/${lab.id}`, "ETREAT")).status).toBe(200);
    expect((await s.get(`/fhir/Observation/${lab.id}`, "TREAT")).status).toBe(404);
    expect((await s.get(`/fhir/Observation/psy-lab-1`, "ETREAT")).status).toBe(404);
    const notes = (await (await me.get("/patients/me/notifications")).json()).notifications;
    expect(notes.some((n: { kind: string }) => n.kind === "break-glass")).toBe(true);
  });

  it("crypto-shreds the record on erase", async () => {
    const { db } = node.context.store;
    const row = await db
      .selectFrom("resource_versions")
      .select(["blob", "version_id"])
      .where("type", "=", "Observation")
      .where("id", "=", lab.id)
      .executeTakeFirstOrThrow();
    const aad = `Observation/${lab.id}/_history/${row.version_id}`;
    await expect(
      decryptRecord(node.services.keyring, `Patient/${patientId}`, row.blob!, aad),
    ).resolves.toBeDefined();
    expect((await doc.send("POST", `/fhir/Patient/${patientId}/$erase`, {})).status).toBe(403);
    const erased = await me.send("POST", `/fhir/Patient/${patientId}/$erase`, {});
    expect(erased.status).toBe(200);
    await expect(
      decryptRecord(node.services.keyring, `Patient/${patientId}`, row.blob!, aad),
    ).rejects.toThrow(/erased/);
    expect((await doc.get(`/fhir/Observation/${lab.id}`)).status).toBe(404);
  });
});
