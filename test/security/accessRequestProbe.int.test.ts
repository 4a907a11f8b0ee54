import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Address, LocalAccount } from "viem";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import { encodeAccessRequestHeader, newNonce, signAccessRequest } from "../../src/federation/nodeAuth.js";
import { ACCESS_REQUEST_HEADER } from "../../src/federation/federationService.js";
import { categoryMask, purposeMask, type Category } from "../../src/model/vocabulary.js";
import { grantForTreatment } from "../support/grants.js";
import type { Session } from "../support/session.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "./attackNode.js";

const notAfter = "2031-01-01T00:00:00.000Z";

interface Bundle {
  total: number;
  entry: Array<{ resource: { resourceType: string; meta?: { source?: string } } }>;
}

/** A body with the values that differ between any two requests (ids, accounts, times) replaced. */
function normalized(body: unknown, ...values: string[]): string {
  let text = JSON.stringify(body).replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>");
  for (const v of values) text = text.split(v).join("<v>").split(v.toLowerCase()).join("<v>");
  text = text.replace(/0x0{24}[0-9a-f]{40}/g, "<grantee>");
  return text;
}

/**
 * Issue 15's requests and "not shared with you", as an attacker holding a clinician's session
 * would probe them: asking for access, reading what is not shared and the merged view must not
 * tell whether a patient exists at this node or holds data the clinician may not see; another's
 * request is a missing one; a patient's answer cannot hand the access to someone else; the terms
 * asked for are not readable from the database at rest.
 */
describe.each(engines)("access requests and what is not shared (%s)", (engine) => {
  let n: AttackNode;
  let gp: Session;
  beforeAll(async () => {
    n = await startAttackNode(engine, "req");
    gp = await n.as(n.gp);
  }, 120_000);
  afterAll(async () => n?.dispose());

  const stranger = (): Address => privateKeyToAccount(generatePrivateKey()).address;
  const ask = (s: Session, patient: Address, categories: Category[] = ["mental-health"]) =>
    s.send("POST", "/access-requests", { patient, categories, notAfter, message: "about your care" });

  it("answers a request for a patient with data, a patient without, and an unknown account alike", async () => {
    const answers: string[] = [];
    for (const patient of [n.p1.account.address, n.p2.account.address, stranger()]) {
      const res = await ask(gp, patient);
      expect(res.status).toBe(201);
      const body = (await res.json()) as { id: string };
      answers.push(normalized(body, body.id, patient));
    }
    expect(answers[1]).toBe(answers[0]);
    expect(answers[2]).toBe(answers[0]);
  });

  it("states what is not shared from the grants alone: hidden data and an unknown account look the same", async () => {
    // p1 holds an HIV condition and a hypertension one; the random account holds nothing here
    const a = await (await gp.get(`/consents/sharing?patient=${n.p1.account.address}`)).json();
    const other = stranger();
    const b = await (await gp.get(`/consents/sharing?patient=${other}`)).json();
    expect(normalized(a, n.p1.account.address)).toBe(normalized(b, other));
    expect(a.shared).toEqual([]);
    expect(a.notShared).toHaveLength(20);
  });

  it("shows a clinician only granted categories in the patient's whole record, with no trace of what is hidden", async () => {
    // both patients share demographics only; p1 also holds two conditions the GP may not see
    for (const p of [n.p1.account, n.p2.account])
      expect((await grantForTreatment(n.url, p, n.gp.address, ["demographics"])).status).toBe(201);
    const one = await gp.get(`/fhir/Patient/${n.p1.id}/$everything`);
    const two = await gp.get(`/fhir/Patient/${n.p2.id}/$everything`);
    expect([one.status, two.status]).toEqual([200, 200]);
    const a = (await one.json()) as Bundle;
    const b = (await two.json()) as Bundle;
    expect(a.entry.map((e) => e.resource.resourceType)).toEqual(["Patient"]);
    expect(b.entry.map((e) => e.resource.resourceType)).toEqual(["Patient"]);
    expect(a.total).toBe(b.total);
    const text = JSON.stringify(a);
    for (const leak of ["Condition", n.p1.hiv, n.p1.plain, "outcome", "86406008"])
      expect(text).not.toContain(leak);
  });

  it("tags every resource of the merged cross-organization view with its source organization", async () => {
    const request = {
      patient: n.p1.account.address,
      requester: n.doc.address,
      requesterOrganization: n.node.context.organizationId,
      categories: categoryMask(["demographics", "conditions"]),
      purpose: purposeMask(["TREAT"]),
      expiry: Math.floor(Date.now() / 1000) + 300,
      nonce: newNonce(),
    };
    const signature = await signAccessRequest(n.doc, request, n.node.context.clients.chainId);
    const res = await fetch(`${n.url}/federation/everything?patient=${n.p1.account.address}`, {
      headers: { [ACCESS_REQUEST_HEADER]: encodeAccessRequestHeader({ accessRequest: request, signature }) },
    });
    expect(res.status).toBe(200);
    const merged = (await res.json()) as Bundle;
    expect(merged.entry.map((e) => e.resource.resourceType).sort()).toEqual(["Condition", "Patient"]);
    // the sensitive condition is not among the categories the AccessRequest names
    expect(JSON.stringify(merged)).not.toContain(n.p1.hiv);
    const hospital = `urn:carechain:organization:${n.node.context.organizationId.toLowerCase()}`;
    for (const e of merged.entry) expect(e.resource.meta?.source).toBe(hospital);
  });

  it("answers another's request exactly as a missing one, to a clinician and to another patient", async () => {
    const mine = (await (await ask(gp, stranger(), ["labs"])).json()) as { id: string };
    const doc = await n.as(n.doc);
    const p2 = await n.as(n.p2.account);
    const probes = [
      (id: string) => call(doc, "GET", `/access-requests/${id}`),
      (id: string) => call(doc, "DELETE", `/access-requests/${id}`),
      (id: string) => call(p2, "GET", `/access-requests/${id}`),
      (id: string) => call(p2, "POST", `/patients/me/access-requests/${id}/decline`),
    ];
    for (const path of probes) {
      const hidden = await path(mine.id);
      const random = randomUUID();
      const missing = await path(random);
      expect(hidden.status).toBe(404);
      expect(missing.status).toBe(404);
      expect((await hidden.text()).split(mine.id).join("<id>")).toBe(
        (await missing.text()).split(random).join("<id>"),
      );
    }
    // a clinician cannot answer as a patient
    expect((await call(gp, "POST", `/patients/me/access-requests/${mine.id}/decline`)).status).toBe(403);
  });

  it("refuses a patient's answer that grants someone else than the requester, or names another patient", async () => {
    const p1 = await n.as(n.p1.account);
    const request = (
      (await (await p1.get("/patients/me/access-requests")).json()).requests as Array<{ id: string }>
    )[0]!;
    const domain = (await (await fetch(`${n.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const grantTo = async (patient: LocalAccount, account: Address) => {
      const message = buildGrantMessage({
        patient: patient.address,
        grantee: { kind: "practitioner", account },
        categories: ["mental-health"],
        purposes: ["TREAT"],
        actions: ["read"],
        notBefore: Math.floor(Date.now() / 1000) - 60,
        notAfter: new Date(notAfter),
      });
      return signedGrantToJson(message, await signGrant(patient, domain, message));
    };
    const toResearcher = await p1.send(
      "POST",
      `/patients/me/access-requests/${request.id}/grant`,
      await grantTo(n.p1.account, n.researcher.address),
    );
    expect(toResearcher.status).toBe(400);
    const ofAnother = await p1.send(
      "POST",
      `/patients/me/access-requests/${request.id}/grant`,
      await grantTo(n.p2.account, n.gp.address),
    );
    expect(ofAnother.status).toBe(400);
    const still = await (await p1.get(`/access-requests/${request.id}`)).json();
    expect(still.status).toBe("pending");
    // nothing reached the ledger's queue for the researcher
    expect((await (await n.as(n.researcher)).get("/consents/shared-with-me")).ok).toBe(true);
    expect((await (await (await n.as(n.researcher)).get("/consents/shared-with-me")).json()).grants).toEqual(
      [],
    );
  });

  it("keeps the categories and message asked for sealed in the database", async () => {
    const rows = await n.node.context.store.db.selectFrom("consent_requests").selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.terms.startsWith("sealed:v1:")).toBe(true);
      const text = JSON.stringify(row);
      for (const leak of [
        "mental-health",
        "labs",
        "about your care",
        String(categoryMask(["mental-health"])),
      ])
        expect(text).not.toContain(leak);
    }
  });

  /** A request as the web app sends it: a JSON body only where the method has one. */
  const call = (s: Session, method: string, path: string): Promise<Response> =>
    method === "POST"
      ? s.send(method, path, {})
      : fetch(`${n.url}${path}`, { method, headers: { authorization: `Bearer ${s.token}` } });
});
