import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Hex, LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnvil, type Anvil } from "../../src/chain/anvil.js";
import { freePort } from "../../src/chain/freePort.js";
import {
  buildGrantMessage,
  buildRevokeMessage,
  signGrant,
  signRevoke,
  signedGrantToJson,
} from "../../src/consent/signConsent.js";
import { categoryMask, purposeBit } from "../../src/model/vocabulary.js";
import {
  contractsOfNode,
  prepareNodeKey,
  registerAsGovernor,
  spawnNode,
  waitForIndexers,
  type NodeProcess,
} from "../../src/federation/consortium.js";
import { sourceOf } from "../../src/federation/federatedFetch.js";
import {
  encodeAccessRequestHeader,
  newNonce,
  signAccessRequest,
  signNodeRequest,
  type AccessRequest,
  type SignedAccessRequest,
} from "../../src/federation/nodeAuth.js";
import { isLab, splitBundle } from "../../src/federation/splitBundle.js";
import type { FhirResource } from "../../src/records/fhirTypes.js";
import { signIn } from "../support/session.js";
import { sseReader } from "../support/sse.js";
import { freshDatabase, type FreshDatabase } from "../support/stores.js";

const PASSWORD = "consortium-test-password";
const CHAIN_ID = 31337;

interface Entry {
  resource: FhirResource & { meta?: { source?: string } };
  search: { mode: string };
}

/**
 * Scenario 3 across real node PROCESSES on one anvil owned by the test: A (lab) deploys the
 * contracts and governs; B (GP clinic) and C (hospital) join with CARECHAIN_CONTRACTS. The
 * governor's registrations go through A's outbox (A's relayer submits them). A GP at B fetches
 * labs held at A under the patient's consent; a cardiologist at C without consent is refused and
 * A logs the denial; a revoke is enforced within 2 s; forged/replayed requests get clear 4xx; when
 * A is down, B's merged view names A as unreachable and still returns the rest.
 */
describe("consortium of node processes", () => {
  const root = mkdtempSync(join(tmpdir(), "carechain-consortium-"));
  let anvil: Anvil;
  let gpDatabase: FreshDatabase | undefined;
  const nodes: NodeProcess[] = [];
  let A: NodeProcess;
  let B: NodeProcess;
  let C: NodeProcess;
  const patient = privateKeyToAccount(generatePrivateKey());
  const gp = privateKeyToAccount(generatePrivateKey());
  const cardiologist = privateKeyToAccount(generatePrivateKey());
  const labTech = privateKeyToAccount(generatePrivateKey());
  const file = readdirSync(join(import.meta.dirname, "..", "fixtures", "synthea")).find((f) =>
    f.startsWith("Alfreda"),
  )!;
  const bundle = JSON.parse(
    readFileSync(join(import.meta.dirname, "..", "fixtures", "synthea", file), "utf8"),
  ) as FhirResource;
  const parts = splitBundle(bundle, (r) =>
    isLab(r) ? "lab" : r.resourceType === "Condition" ? "gp" : "skip",
  );
  const labIds = new Set(
    ((parts.get("lab")!.entry as Entry[]) ?? []).filter((e) => isLab(e.resource)).map((e) => e.resource.id),
  );
  const CATEGORIES = categoryMask(["labs", "demographics", "conditions"]);
  let grantId: Hex;

  const accessRequest = async (who: LocalAccount, organization: Hex): Promise<SignedAccessRequest> => {
    const request: AccessRequest = {
      patient: patient.address,
      requester: who.address,
      requesterOrganization: organization,
      categories: CATEGORIES,
      purpose: purposeBit("TREAT"),
      expiry: Math.floor(Date.now() / 1000) + 300,
      nonce: newNonce(),
    };
    return { accessRequest: request, signature: await signAccessRequest(who, request, CHAIN_ID) };
  };
  const federated = async (node: NodeProcess, who: LocalAccount) => {
    const signed = await accessRequest(who, node.organizationId);
    const res = await fetch(`${node.url}/federation/everything?patient=${patient.address}`, {
      headers: { "x-carechain-access-request": encodeAccessRequestHeader(signed) },
    });
    return {
      status: res.status,
      body: (await res.json()) as FhirResource & { entry: Entry[]; total: number },
    };
  };
  const labsIn = (body: { entry: Entry[] }) =>
    body.entry.filter((e) => e.search.mode === "match" && labIds.has(e.resource.id));
  const fetchDirect = async (
    signer: LocalAccount,
    signed: SignedAccessRequest,
    headersOverride?: Record<string, string>,
  ) => {
    const body = JSON.stringify(signed);
    const headers =
      headersOverride ?? (await signNodeRequest(signer, { method: "POST", path: "/federation/fetch", body }));
    return fetch(`${A.url}/federation/fetch`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
  };

  beforeAll(async () => {
    if (process.env.TEST_DATABASE_URL) gpDatabase = await freshDatabase();
    anvil = await startAnvil();
    const keys = await Promise.all(["a", "b", "c"].map((n) => prepareNodeKey(join(root, n), PASSWORD)));
    const spec = async (name: string, kind: "lab" | "clinic" | "hospital", dir: string) => ({
      name,
      kind,
      dataDir: join(root, dir),
      port: await freePort(),
    });
    A = await spawnNode(await spec("Riverside Lab", "lab", "a"), {
      rpcUrl: anvil.rpcUrl,
      account: keys[0]!,
      keyPassword: PASSWORD,
    });
    nodes.push(A);
    const contracts = await contractsOfNode(A.url);
    [B, C] = await Promise.all([
      spawnNode(await spec("Elm Street GP", "clinic", "b"), {
        rpcUrl: anvil.rpcUrl,
        account: keys[1]!,
        keyPassword: PASSWORD,
        contracts,
        // with a PostgreSQL server at hand, one node of the consortium keeps its data there
        ...(gpDatabase ? { env: { DATABASE_URL: gpDatabase.url } } : {}),
      }),
      spawnNode(await spec("City Hospital", "hospital", "c"), {
        rpcUrl: anvil.rpcUrl,
        account: keys[2]!,
        keyPassword: PASSWORD,
        contracts,
      }),
    ]);
    nodes.push(B!, C!);
    const block = await registerAsGovernor(A.spec.dataDir, {
      organizations: [{ node: B! }, { node: C! }],
      practitioners: [
        { organization: A.organizationId, account: labTech.address, role: "lab-technician" },
        { organization: B!.organizationId, account: gp.address, role: "physician" },
        { organization: C!.organizationId, account: cardiologist.address, role: "physician" },
      ],
      patients: [],
    });
    await waitForIndexers(
      nodes.map((n) => n.url),
      block,
    );

    // the lab holds the labs, the GP the conditions; both hold the (identical) Patient
    const tech = await signIn(A.url, labTech);
    expect(
      (
        await tech.send("POST", "/fhir", parts.get("lab"), undefined, {
          "x-patient-account": patient.address,
        })
      ).status,
    ).toBe(200);
    const doc = await signIn(B!.url, gp);
    expect(
      (await doc.send("POST", "/fhir", parts.get("gp"), undefined, { "x-patient-account": patient.address }))
        .status,
    ).toBe(200);

    const domain = (await (await fetch(`${B!.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "demographics"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
    const granted = await fetch(`${B!.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
    });
    expect(granted.status).toBe(201);
    grantId = ((await granted.json()) as { grantId: Hex }).grantId;

    // wait until the lab's locator is on chain and mirrored at B (published through A's outbox)
    const deadline = Date.now() + 20_000;
    for (;;) {
      const located = (await (await doc.get(`/federation/locate?patient=${patient.address}`)).json()) as {
        locations: Array<{ organization: string }>;
      };
      if (located.locations.some((l) => l.organization === A.organizationId.toLowerCase())) break;
      if (Date.now() > deadline) throw new Error("the lab's record locator never reached B");
      await new Promise((r) => setTimeout(r, 200));
    }
    // and every node has read the grant (indexers poll the external ledger once a second)
    const head = ((await (await fetch(`${B!.url}/health`)).json()) as { chain: { blockNumber: number } })
      .chain;
    await waitForIndexers(
      nodes.map((n) => n.url),
      head.blockNumber,
    );
  }, 180_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await anvil?.stop();
    rmSync(root, { recursive: true, force: true });
    await gpDatabase?.drop();
  });

  it("gets the terms of the grant relayed at B to A, which holds the labs, without any fetch", async () => {
    // the ledger holds only the grant's commitment: B pushes the signed terms to the holders
    const me = await signIn(A.url, patient);
    const deadline = Date.now() + 10_000;
    let grants: Array<{ grantId: string; categories: string[] }> = [];
    while (Date.now() < deadline) {
      grants = ((await (await me.get("/consents")).json()) as { grants: typeof grants }).grants;
      if (grants.some((g) => g.grantId === grantId)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(grants.find((g) => g.grantId === grantId)?.categories.sort()).toEqual(["demographics", "labs"]);
    // C holds nothing of the patient and is not the grantee's organization: it never got the terms
    const atC = await signIn(C.url, patient);
    expect(((await (await atC.get("/consents")).json()) as { grants: unknown[] }).grants).toEqual([]);
  });

  it("lets the GP at B fetch the labs held at A under the patient's consent", async () => {
    const { status, body } = await federated(B, gp);
    expect(status).toBe(200);
    const labs = labsIn(body);
    expect(labs.length).toBe(labIds.size);
    expect(labs.every((e) => e.resource.meta?.source === sourceOf(A.organizationId))).toBe(true);
    // the GP's own conditions are merged in; the Patient both nodes hold appears once
    const conditions = body.entry.filter((e) => e.resource.resourceType === "Condition");
    expect(conditions.length).toBeGreaterThan(0);
    expect(conditions.every((e) => e.resource.meta?.source === sourceOf(B.organizationId))).toBe(true);
    expect(body.entry.filter((e) => e.resource.resourceType === "Patient")).toHaveLength(1);
    expect(body.entry.some((e) => e.search.mode === "outcome")).toBe(false);
    // the same merged view through the FHIR operation with federated=true
    const patientId = (parts.get("gp")!.entry as Entry[]).find((e) => e.resource.resourceType === "Patient")!
      .resource.id;
    const viaFhir = await fetch(`${B.url}/fhir/Patient/${patientId}/$everything?federated=true`, {
      headers: {
        "x-carechain-access-request": encodeAccessRequestHeader(await accessRequest(gp, B.organizationId)),
      },
    });
    expect(viaFhir.status).toBe(200);
    expect(labsIn((await viaFhir.json()) as { entry: Entry[] }).length).toBe(labIds.size);
  });

  it("gives the GP at B a merged patient summary naming each line's source, and guidance from both nodes' data", async () => {
    const patientId = (parts.get("gp")!.entry as Entry[]).find((e) => e.resource.resourceType === "Patient")!
      .resource.id;
    // the GP's clinic measures a high potassium; the lab at A holds the HbA1c history
    const doc = await signIn(B.url, gp);
    const potassium = await doc.send("POST", "/fhir/Observation", {
      resourceType: "Observation",
      status: "final",
      category: [
        {
          coding: [
            { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
          ],
        },
      ],
      code: { coding: [{ system: "http://loinc.org", code: "6298-4", display: "Potassium" }] },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: new Date().toISOString(),
      valueQuantity: { value: 5.9, unit: "mmol/L" },
    });
    expect(potassium.status).toBe(201);
    const header = async () => ({
      "x-carechain-access-request": encodeAccessRequestHeader(await accessRequest(gp, B.organizationId)),
    });

    const res = await fetch(`${B.url}/fhir/Patient/${patientId}/$summary?federated=true`, {
      headers: await header(),
    });
    expect(res.status).toBe(200);
    const summary = (await res.json()) as {
      type: string;
      entry: {
        fullUrl: string;
        resource: FhirResource & {
          section?: {
            code: { coding: { code: string }[] };
            text: { div: string };
            entry?: { reference: string }[];
          }[];
        };
      }[];
    };
    expect(summary.type).toBe("document");
    const composition = summary.entry[0]!.resource;
    expect(composition.resourceType).toBe("Composition");
    const sections = new Map(composition.section!.map((s) => [s.code.coding[0]!.code, s]));
    for (const required of ["11450-4", "48765-2", "10160-0"])
      expect(sections.has(required), required).toBe(true);
    const results = sections.get("30954-2")!;
    expect(results.text.div).toContain("Potassium");
    expect(results.text.div).toContain("Hemoglobin A1c");
    // each line names the organization that recorded it, by its registered name
    expect(results.text.div).toContain("Riverside Lab");
    expect(results.text.div).toContain("Elm Street GP");
    const urls = new Set(summary.entry.map((e) => e.fullUrl));
    for (const s of sections.values())
      for (const ref of s.entry ?? [])
        expect(urls.has(`${B.url}/fhir/${ref.reference}`), ref.reference).toBe(true);

    const guided = await fetch(`${B.url}/guidance/patients/${patientId}?federated=true`, {
      headers: await header(),
    });
    expect(guided.status).toBe(200);
    const { guidance } = (await guided.json()) as { guidance: { id: string; sources: string[] }[] };
    const from = (org: Hex) => guidance.filter((g) => g.sources.includes(sourceOf(org))).map((g) => g.id);
    expect(from(A.organizationId)).toContain("lab:hba1c:in the prediabetes range (5.7-6.4 %)");
    expect(from(B.organizationId)).toContain("lab:potassium:hyperkalaemia (> 5.5 mmol/L)");
  });

  it("pushes a new lab stored at A to the GP's subscription within 1 s", async () => {
    // the GP of B subscribes at the node that holds the data (signed in there with SIWE)
    const gpAtA = await signIn(A.url, gp);
    const created = await gpAtA.send(
      "POST",
      "/subscriptions",
      { patient: patient.address, categories: ["labs"], channel: "sse" },
      "TREAT",
    );
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const stream = sseReader(
      await fetch(`${A.url}/subscriptions/${id}/events`, {
        headers: { authorization: `Bearer ${gpAtA.token}`, "x-purpose-of-use": "TREAT" },
      }),
    );
    const patientId = (parts.get("lab")!.entry as Entry[]).find((e) => e.resource.resourceType === "Patient")!
      .resource.id;
    const tech = await signIn(A.url, labTech);
    const stored = Date.now();
    const res = await tech.send("POST", "/fhir/Observation", {
      resourceType: "Observation",
      id: "push-lab-1",
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
      effectiveDateTime: "2026-11-25T09:00:00Z",
    });
    expect(res.status).toBe(201);
    const frame = await stream.next(0, 5000);
    expect(frame?.data.resource).toMatch(/^Observation\/push-lab-1/);
    expect(frame!.at - stored).toBeLessThan(1000);
    // the notification carries a reference; the content comes through the audited read path
    expect((await gpAtA.get("/fhir/Observation/push-lab-1", "TREAT")).status).toBe(200);
    await gpAtA.send("DELETE", `/subscriptions/${id}`, undefined);
  });

  it("refuses a cardiologist at C without consent, and A logs the denial", async () => {
    const { status, body } = await federated(C, cardiologist);
    expect(status).toBe(200);
    expect(labsIn(body)).toHaveLength(0);
    const outcome = body.entry.find((e) => e.search.mode === "outcome")!;
    expect(JSON.stringify(outcome.resource)).toContain(
      `organization ${A.organizationId.toLowerCase()} refused: HTTP 403`,
    );

    const me = await signIn(A.url, patient);
    const deadline = Date.now() + 5000;
    let denied = false;
    while (!denied && Date.now() < deadline) {
      const log = (await (await me.get("/audit/me?limit=1000")).json()) as {
        items: Array<{ entry: { action: string; decision: string; actor: { account: string } } }>;
      };
      denied = log.items.some(
        (i) => i.entry.decision === "deny" && i.entry.actor.account === cardiologist.address,
      );
      if (!denied) await new Promise((r) => setTimeout(r, 100));
    }
    expect(denied).toBe(true);
  });

  it("answers forged, unregistered and replayed requests with clear 4xx", async () => {
    const signed = await accessRequest(gp, B.organizationId);
    const stranger = privateKeyToAccount(generatePrivateKey());

    const forgedNode = await signNodeRequest(stranger, {
      method: "POST",
      path: "/federation/fetch",
      body: JSON.stringify(signed),
    });
    forgedNode["x-carechain-node"] = B.account.address;
    const r1 = await fetchDirect(B.account, signed, forgedNode);
    expect(r1.status).toBe(401);
    expect(JSON.stringify(await r1.json())).toContain("node request signature does not match");

    const r2 = await fetchDirect(stranger, signed);
    expect(r2.status).toBe(403);
    expect(JSON.stringify(await r2.json())).toContain("not the node of an active registered organization");

    const forgedDoctor = {
      ...signed,
      signature: await signAccessRequest(
        stranger,
        { ...signed.accessRequest, requester: stranger.address },
        CHAIN_ID,
      ),
    };
    const r3 = await fetchDirect(B.account, forgedDoctor);
    expect(r3.status).toBe(401);
    expect(JSON.stringify(await r3.json())).toContain("access request is not signed by its requester");

    const body = JSON.stringify(signed);
    const headers = await signNodeRequest(B.account, { method: "POST", path: "/federation/fetch", body });
    expect((await fetchDirect(B.account, signed, headers)).status).toBe(200);
    const replay = await fetchDirect(B.account, signed, headers);
    expect(replay.status).toBe(409);
    expect(JSON.stringify(await replay.json())).toContain("replayed node-request");
    const sameNonce = await fetchDirect(B.account, signed);
    expect(sameNonce.status).toBe(409);
    expect(JSON.stringify(await sameNonce.json())).toContain("replayed access-request");
  });

  it("enforces a revoke mined on chain at every node within 2 s", async () => {
    expect(labsIn((await federated(B, gp)).body).length).toBe(labIds.size);
    const domain = (await (await fetch(`${C.url}/consents/domain`)).json()) as Parameters<
      typeof signRevoke
    >[1];
    const nonce = BigInt(
      ((await (await fetch(`${B.url}/consents/nonce/${patient.address}`)).json()) as { nonce: string }).nonce,
    );
    const message = buildRevokeMessage({ patient: patient.address, grantId, nonce });
    const res = await fetch(`${B.url}/consents/revoke?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        revoke: { patient: message.patient, grantId: message.grantId, nonce: message.nonce.toString() },
        signature: await signRevoke(patient, domain, message),
      }),
    });
    expect(res.status).toBeLessThan(300);
    const mined = Date.now();
    let labs = 1;
    while (labs > 0 && Date.now() - mined < 2000) {
      labs = labsIn((await federated(B, gp)).body).length;
    }
    expect(labs).toBe(0);
    expect(Date.now() - mined).toBeLessThan(2000);
    const direct = await fetchDirect(B.account, await accessRequest(gp, B.organizationId));
    expect(direct.status).toBe(403);
  });

  it("reports A as unreachable in B's merged view when A is down, and still returns the rest", async () => {
    await A.stop();
    const { status, body } = await federated(B, gp);
    expect(status).toBe(200);
    expect(body.entry.some((e) => e.resource.resourceType === "Condition")).toBe(true);
    const outcome = body.entry.find((e) => e.search.mode === "outcome");
    expect(JSON.stringify(outcome?.resource)).toContain(
      `organization ${A.organizationId.toLowerCase()} is unreachable`,
    );
  });
});
