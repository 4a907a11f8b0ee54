import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Session } from "../support/session.js";
import { engines } from "../support/stores.js";
import { condition, HIV, HYPERTENSION, startAttackNode, type AttackNode } from "./attackNode.js";

interface Outcome {
  status: number;
  body: string;
}

const transaction = (entries: object[]) => ({ resourceType: "Bundle", type: "transaction", entry: entries });

/** Status and body of a bundle import, with `id` replaced by a placeholder. */
async function importAs(s: Session, entries: object[], id: string): Promise<Outcome> {
  const res = await s.send("POST", "/fhir", transaction(entries));
  return { status: res.status, body: (await res.text()).split(id).join("<id>") };
}

/**
 * Issue 13 item 9, through bundles: a transaction entry names an id of its choice, so on the old
 * code a caller learned whether a hidden id was taken (`PUT Type/id` created a free id and answered
 * 404 on a hidden one; a POST entry carrying the id wrote over it or was refused). A caller who does
 * not choose ids (a patient, another organization's practitioner, the author's researcher) gets a
 * server id for every POST entry and a 404 for a PUT of an id it cannot see, free or hidden alike.
 */
describe.each(engines)("probing hidden ids through a bundle (%s)", (engine) => {
  let n: AttackNode;
  beforeAll(async () => {
    n = await startAttackNode(engine, "bpr");
  }, 120_000);
  afterAll(async () => n?.dispose());

  const callers = (): Array<[string, () => Promise<Session>, string]> => [
    ["patient 2", () => n.as(n.p2.account), n.p2.id],
    ["another organization's physician", () => n.as(n.gp), n.p1.id],
    ["the author's researcher", () => n.as(n.researcher), n.p1.id],
  ];

  it("answers a PUT entry of a hidden id exactly as one of a free id", async () => {
    for (const [, signIn, subject] of callers()) {
      const s = await signIn();
      for (const hidden of [n.p1.plain, n.p1.hiv]) {
        const free = randomUUID();
        const put = (id: string) => ({
          resource: condition(id, subject, HYPERTENSION),
          request: { method: "PUT", url: `Condition/${id}` },
        });
        const a = await importAs(s, [put(hidden)], hidden);
        const b = await importAs(s, [put(free)], free);
        expect(a.status).toBe(404);
        expect(a).toEqual(b);
        expect(a.body).not.toMatch(/consent|sensitive|grant|sexual|forbidden/i);
      }
    }
  });

  it("gives a POST entry carrying a hidden id a server id, and leaves the hidden record alone", async () => {
    const owner = await n.as(n.p1.account);
    const before = await (await owner.get(`/fhir/Condition/${n.p1.hiv}`)).json();
    const s = await n.as(n.p2.account);
    for (const id of [n.p1.hiv, n.p1.plain, randomUUID()]) {
      const res = await s.send(
        "POST",
        "/fhir",
        transaction([
          {
            fullUrl: `urn:uuid:${randomUUID()}`,
            resource: condition(id, n.p2.id, HIV),
            request: { method: "POST", url: "Condition" },
          },
        ]),
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { entry: Array<{ response: { status: string; location: string } }> };
      const [entry] = body.entry;
      expect(entry?.response.status).toBe("201 Created");
      // a fresh id whatever the entry carried: the answer does not depend on whether `id` is taken
      expect(entry?.response.location).toMatch(/^Condition\/[0-9a-f-]{36}\/_history\/1$/);
      expect(entry?.response.location).not.toContain(id);
    }
    // the owner's record did not change and is still theirs
    expect(await (await owner.get(`/fhir/Condition/${n.p1.hiv}`)).json()).toEqual(before);
  });

  it("keeps references between the entries of a bundle whose ids the server chose", async () => {
    const s = await n.as(n.p2.account);
    const cond = randomUUID();
    const res = await s.send(
      "POST",
      "/fhir",
      transaction([
        {
          resource: condition(cond, n.p2.id, HYPERTENSION),
          request: { method: "POST", url: "Condition" },
        },
        {
          resource: {
            resourceType: "Observation",
            id: randomUUID(),
            status: "final",
            code: { coding: [{ system: "http://loinc.org", code: "8480-6" }] },
            subject: { reference: `Patient/${n.p2.id}` },
            focus: [{ reference: `Condition/${cond}` }],
          },
          request: { method: "POST", url: "Observation" },
        },
      ]),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { entry: Array<{ response: { location: string } }> };
    const [condLoc, obsLoc] = body.entry.map((e) => e.response.location.split("/_history/")[0]);
    const obs = (await (await s.get(`/fhir/${obsLoc}`)).json()) as { focus: Array<{ reference: string }> };
    expect(obs.focus[0]?.reference).toBe(condLoc);
    expect(condLoc).not.toBe(`Condition/${cond}`);
  });
});
