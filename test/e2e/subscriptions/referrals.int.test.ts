import { describe, expect, it } from "vitest";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../../src/consent/signConsent.js";
import { signNodeRequest, verifyNodeRequest } from "../../../src/federation/nodeAuth.js";
import { careNode, until } from "../../support/careNode.js";
import { engines } from "../../support/stores.js";

/**
 * Scenario 3, referrals, on a real node (anvil + SQLite or PostgreSQL): a referral becomes
 * accepted when the patient grants the receiving organization, which gets a node-signed notice;
 * an inbound notice is accepted only when the referring organization's node signed it.
 */
describe.each(engines)("referrals (%s)", (engine) => {
  const care = careNode(engine);
  const { patient, clinicNode, clinic, otherClinic, domain } = care;

  it("moves a referral from requested to accepted when the patient grants the receiving organization", async () => {
    const { node, hooks, doc, gpSession, me } = care;
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
    const { node, doc } = care;
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
