import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Hex, LocalAccount } from "viem";
import {
  buildRevokeMessage,
  grantIdOf,
  newSalt,
  signGrant,
  signRevoke,
  signedGrantToJson,
  type GrantMessage,
} from "../../src/consent/signConsent.js";
import type { Session } from "../support/session.js";
import { sseReader } from "../support/sse.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "../security/attackNode.js";

type Domain = Parameters<typeof signGrant>[1];

interface RequestView {
  id: string;
  status: string;
  categories: string[];
  purposes: string[];
  message: string;
  grantId: string | null;
  requester: { account: string; organizationName: string | null; role: string };
  proposedGrant: Omit<GrantMessage, "notBefore" | "notAfter" | "salt"> & {
    notBefore: number;
    notAfter: number;
  };
}

/** The patient's page: signs a grant from a request's proposed terms (a salt of its own). */
async function signProposed(n: AttackNode, patient: LocalAccount, proposed: RequestView["proposedGrant"]) {
  const domain = (await (await fetch(`${n.url}/consents/domain`)).json()) as Domain;
  const message: GrantMessage = {
    ...proposed,
    notBefore: BigInt(proposed.notBefore),
    notAfter: BigInt(proposed.notAfter),
    salt: newSalt(),
  };
  return { message, body: signedGrantToJson(message, await signGrant(patient, domain, message)) };
}

/**
 * The server side of the clinician pages (issue 15), on one real node (anvil + SQLite or
 * PostgreSQL): access requests from ask to grant, decline and withdrawal; what a patient's grants
 * do and do not share with a clinician; the registry directory of the share picker; and a
 * grantee told live, within 2 s of the revoke being mined, that a grant naming them is gone.
 */
describe.each(engines)("clinician API (%s)", (engine) => {
  let n: AttackNode;
  let gp: Session;
  let p1: Session;
  let p2: Session;
  const notAfter = "2031-01-01T00:00:00.000Z";
  beforeAll(async () => {
    n = await startAttackNode(engine, "clin");
    [gp, p1, p2] = await Promise.all([n.as(n.gp), n.as(n.p1.account), n.as(n.p2.account)]);
  }, 120_000);
  afterAll(async () => n?.dispose());

  let granted: Hex;

  it("turns a clinician's request into the patient's grant in one step, and tells the requester", async () => {
    const before = await gp.get(`/fhir/Condition/${n.p1.plain}`);
    expect(before.status).toBe(404);
    const ask = await gp.send("POST", "/access-requests", {
      patient: n.p1.account.address,
      categories: ["conditions", "labs"],
      purposes: ["TREAT"],
      notAfter,
      message: "Follow-up after your visit on Monday",
    });
    expect(ask.status).toBe(201);
    const made = (await ask.json()) as RequestView;
    expect(made).toMatchObject({ status: "pending", categories: ["conditions", "labs"], grantId: null });

    const listed = (await (await p1.get("/patients/me/access-requests")).json()).requests as RequestView[];
    expect(listed).toHaveLength(1);
    const request = listed[0]!;
    expect(request).toMatchObject({
      id: made.id,
      message: "Follow-up after your visit on Monday",
      purposes: ["TREAT"],
      requester: { account: n.gp.address, organizationName: "Elm Street GP", role: "physician" },
    });
    const notes = (await (await p1.get("/patients/me/notifications")).json()).notifications as Array<{
      kind: string;
      detail: { request: string };
    }>;
    expect(notes.find((x) => x.kind === "access-request")?.detail.request).toBe(made.id);

    const { message, body } = await signProposed(n, n.p1.account, request.proposedGrant);
    const answer = await p1.send("POST", `/patients/me/access-requests/${made.id}/grant?wait=true`, body);
    expect(answer.status).toBe(201);
    granted = grantIdOf(message);
    expect((await answer.json()).grantId).toBe(granted);

    const seen = (await (await gp.get(`/access-requests/${made.id}`)).json()) as RequestView;
    expect(seen).toMatchObject({ status: "granted", grantId: granted });
    expect((await gp.get(`/fhir/Condition/${n.p1.plain}`)).status).toBe(200);
    // the sensitive condition was not asked for, so it was not granted
    expect((await gp.get(`/fhir/Condition/${n.p1.hiv}`)).status).toBe(404);
    expect((await p1.get("/patients/me/access-requests")).ok).toBe(true);
    expect((await (await p1.get("/patients/me/access-requests")).json()).requests).toHaveLength(0);
    expect((await (await p1.get("/patients/me/access-requests?status=all")).json()).requests).toHaveLength(1);
  });

  it("states from the grants alone which categories are shared with the clinician and which are not", async () => {
    const summary = await (await gp.get(`/consents/sharing?patient=${n.p1.account.address}`)).json();
    expect(summary.purpose).toBe("TREAT");
    expect(summary.shared.map((s: { category: string }) => s.category)).toEqual(["conditions", "labs"]);
    expect(summary.shared[0].grants).toEqual([granted]);
    const notShared = summary.notShared.map((s: { category: string }) => s.category);
    expect(notShared).toContain("sexual-health");
    expect(notShared).toContain("medications");
    expect(notShared).not.toContain("labs");
    expect(
      summary.notShared.find((s: { category: string }) => s.category === "sexual-health").sensitive,
    ).toBe(true);
    // granted for treatment, not for research
    const research = await (
      await gp.get(`/consents/sharing?patient=${n.p1.account.address}&purpose=HRESCH`)
    ).json();
    expect(research.shared).toEqual([]);
  });

  it("lets the patient decline and the requester withdraw; one pending request per patient", async () => {
    const ask = () =>
      gp.send("POST", "/access-requests", { patient: n.p2.account.address, categories: ["labs"], notAfter });
    const first = await ask();
    expect(first.status).toBe(201);
    const id = ((await first.json()) as RequestView).id;
    expect((await ask()).status).toBe(409);
    const declined = await p2.send("POST", `/patients/me/access-requests/${id}/decline`, {});
    expect(declined.status).toBe(200);
    expect(((await declined.json()) as RequestView).status).toBe("declined");
    expect((await p2.send("POST", `/patients/me/access-requests/${id}/decline`, {})).status).toBe(409);
    expect(((await (await gp.get(`/access-requests/${id}`)).json()) as RequestView).status).toBe("declined");
    const told = (await (await gp.get("/patients/me/notifications")).json()).notifications as Array<{
      kind: string;
      detail: { request: string; status: string };
    }>;
    expect(told.find((x) => x.detail.request === id)).toMatchObject({
      kind: "access-request.answered",
      detail: { status: "declined" },
    });

    const again = (await (await ask()).json()) as RequestView;
    const withdrawn = await fetch(`${n.url}/access-requests/${again.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${gp.token}` },
    });
    expect(withdrawn.status).toBe(200);
    expect(((await withdrawn.json()) as RequestView).status).toBe("withdrawn");
    expect((await (await p2.get("/patients/me/access-requests")).json()).requests).toHaveLength(0);
    const mine = (await (await gp.get("/access-requests")).json()).requests as RequestView[];
    expect(mine.map((r) => r.status).sort()).toEqual(["declined", "granted", "withdrawn"]);
  });

  it("searches the registry's organizations, practitioners and roles by prefix, paged, never patients", async () => {
    const organization = {
      kind: "organization",
      id: n.clinic,
      name: "Elm Street GP",
      organizationKind: "clinic",
    };
    const at = { id: n.clinic, name: "Elm Street GP" };
    const practitioner = {
      kind: "practitioner",
      id: n.gp.address,
      name: `physician ${n.gp.address.toLowerCase().slice(0, 6)}…${n.gp.address.toLowerCase().slice(-4)}`,
      organization: at,
      role: "physician",
    };
    const role = { kind: "role", id: n.clinic, name: "every physician", organization: at, role: "physician" };
    // roles only when asked for: a picker that knows practitioners and organizations gets those
    expect((await (await gp.get("/registry/search?q=elm")).json()).entries).toEqual([
      organization,
      practitioner,
    ]);
    const all = "kind=organization&kind=role&kind=practitioner";
    expect((await (await gp.get(`/registry/search?q=ELM&${all}`)).json()).entries).toEqual([
      organization,
      role,
      practitioner,
    ]);
    const page = await (await gp.get(`/registry/search?q=elm&${all}&_count=1&_offset=1`)).json();
    expect(page).toEqual({ entries: [role], next: 2 });
    const byAccount = await (await gp.get(`/registry/search?q=${n.gp.address.slice(0, 12)}`)).json();
    expect(byAccount.entries).toEqual([practitioner]);
    const patient = await (
      await gp.get(`/registry/search?q=${n.p1.account.address.slice(0, 12)}&${all}`)
    ).json();
    expect(patient.entries).toEqual([]);
    // a LIKE wildcard is a character, not "anything"
    expect((await (await gp.get(`/registry/search?q=%25&${all}`)).json()).entries).toEqual([]);
    expect((await fetch(`${n.url}/registry/search?q=elm`)).status).toBe(401);
  });

  it("tells the grantee's open page within 2 s of the revoke being mined, and refuses the next read", async () => {
    const abort = new AbortController();
    const stream = await fetch(`${n.url}/consents/shared-with-me/stream`, {
      headers: { authorization: `Bearer ${gp.token}` },
      signal: abort.signal,
    });
    expect(stream.status).toBe(200);
    const events = sseReader(stream);
    const domain = (await (await fetch(`${n.url}/consents/domain`)).json()) as Domain;
    const nonce = BigInt(
      (await (await fetch(`${n.url}/consents/nonce/${n.p1.account.address}`)).json()).nonce,
    );
    const message = buildRevokeMessage({ patient: n.p1.account.address, grantId: granted, nonce });
    const res = await fetch(`${n.url}/consents/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        revoke: { patient: message.patient, grantId: message.grantId, nonce: message.nonce.toString() },
        signature: await signRevoke(n.p1.account, domain, message),
      }),
    });
    expect(res.status).toBe(202);
    const row = await n.node.context.outbox.waitFor((await res.json()).outboxId, 15_000);
    const mined = Date.now();
    expect(row.status).toBe("confirmed");
    const event = await events.next(0, 2_000);
    expect(event).toMatchObject({
      event: "consent",
      data: { grantId: granted, patient: n.p1.account.address, change: "revoked" },
    });
    expect(event!.at - mined).toBeLessThan(2_000);
    expect((await gp.get(`/fhir/Condition/${n.p1.plain}`)).status).toBe(404);
    const summary = await (await gp.get(`/consents/sharing?patient=${n.p1.account.address}`)).json();
    expect(summary.shared).toEqual([]);
    abort.abort();
  });

  it("refuses a request from a patient and a request to oneself", async () => {
    const other = privateKeyToAccount(generatePrivateKey()).address;
    expect(
      (await p1.send("POST", "/access-requests", { patient: other, categories: ["labs"], notAfter })).status,
    ).toBe(403);
    expect(
      (await gp.send("POST", "/access-requests", { patient: n.gp.address, categories: ["labs"], notAfter }))
        .status,
    ).toBe(400);
  });
});
