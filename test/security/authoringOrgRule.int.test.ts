import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "./attackNode.js";

/**
 * Issue 13 item 3: a researcher (or the payer's clerk) of the hospital that wrote the record, with no
 * grant, reads an HIV condition and the whole $everything under HRESCH or HPAYMT. The
 * authoring-organization rule (docs/access-rules.md) covers clinical roles under TREAT and HOPERAT,
 * non-sensitive categories only.
 */
describe.each(engines)("authoring-organization rule (%s)", (engine) => {
  let n: AttackNode;
  beforeAll(async () => {
    n = await startAttackNode(engine, "aor");
  }, 120_000);
  afterAll(async () => n?.dispose());

  it("refuses the hospital's researcher and admin every read under research, payment or any purpose", async () => {
    const { p1 } = n;
    for (const who of [n.researcher, n.admin]) {
      const s = await n.as(who);
      for (const purpose of ["HRESCH", "HPAYMT", "TREAT", "HOPERAT"]) {
        expect((await s.get(`/fhir/Condition/${p1.hiv}`, purpose)).status).toBe(404);
        expect((await s.get(`/fhir/Condition/${p1.plain}`, purpose)).status).toBe(404);
        // hidden equals missing: the answer of a Patient id that does not exist
        const everything = await s.get(`/fhir/Patient/${p1.id}/$everything`, purpose);
        const unknown = await s.get(`/fhir/Patient/no-such-patient/$everything`, purpose);
        expect(everything.status).toBe(404);
        expect((await everything.text()).replace(p1.id, "ID")).toBe(
          (await unknown.text()).replace("no-such-patient", "ID"),
        );
        const search = await (await s.get(`/fhir/Condition?patient=${p1.id}`, purpose)).json();
        expect(search.total).toBe(0);
      }
    }
    const refused = (await n.entriesAbout(p1.account.address)).filter(
      (e) => e.decision === "deny" && e.actor.account === n.researcher.address,
    );
    expect(refused.length).toBeGreaterThan(0);
  });

  it("lets the hospital's physician read its non-sensitive record for treatment and operations only", async () => {
    const { p1 } = n;
    const doc = await n.as(n.doc);
    for (const purpose of ["TREAT", "HOPERAT"]) {
      expect((await doc.get(`/fhir/Condition/${p1.plain}`, purpose)).status).toBe(200);
      // never a sensitive category without the patient's grant
      expect((await doc.get(`/fhir/Condition/${p1.hiv}`, purpose)).status).toBe(404);
    }
    for (const purpose of ["HRESCH", "HPAYMT", "PUBHLTH", "HDIRECT"])
      expect((await doc.get(`/fhir/Condition/${p1.plain}`, purpose)).status).toBe(404);
    const everything = await (await doc.get(`/fhir/Patient/${p1.id}/$everything`, "TREAT")).json();
    const ids = everything.entry.map((e: { resource: { id: string } }) => e.resource.id).sort();
    expect(ids).toEqual([p1.id, p1.plain].sort());
  });

  it("lets the researcher read what the patient granted for research, sensitive category included", async () => {
    const { p1 } = n;
    const message = buildGrantMessage({
      patient: p1.account.address,
      grantee: { kind: "practitioner", account: n.researcher.address },
      categories: ["conditions", "sexual-health"],
      purposes: ["HRESCH"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
    const domain = await (await fetch(`${n.url}/consents/domain`)).json();
    const signature = await signGrant(p1.account, domain, message);
    const submitted = await fetch(`${n.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, signature)),
    });
    expect(submitted.status).toBe(201);
    const s = await n.as(n.researcher);
    expect((await s.get(`/fhir/Condition/${p1.hiv}`, "HRESCH")).status).toBe(200);
    expect((await s.get(`/fhir/Condition/${p1.plain}`, "HRESCH")).status).toBe(200);
    // the grant is for research: payment still needs its own
    expect((await s.get(`/fhir/Condition/${p1.hiv}`, "HPAYMT")).status).toBe(404);
  });
});
