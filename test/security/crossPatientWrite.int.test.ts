import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engines } from "../support/stores.js";
import { condition, HYPERTENSION, startAttackNode, type AttackNode } from "./attackNode.js";

/**
 * Issue 13 item 1: patient 2 overwrites patient 1's condition by naming themself as its subject,
 * then reads its history. Every version a write touches is authorized by its own patient, a resource
 * never changes patient, and every refused attempt lands in the victim's access log.
 */
describe.each(engines)("cross-patient write (%s)", (engine) => {
  let n: AttackNode;
  beforeAll(async () => {
    n = await startAttackNode(engine, "xpw");
  }, 120_000);
  afterAll(async () => n?.dispose());

  it("refuses patient 2's overwrite of patient 1's condition, and their history and version reads", async () => {
    const { p1, p2 } = n;
    const attacker = await n.as(p2.account);
    const overwrite = await attacker.send(
      "PUT",
      `/fhir/Condition/${p1.plain}`,
      condition(p1.plain, p2.id, HYPERTENSION),
    );
    expect(overwrite.status).toBe(404);
    expect((await overwrite.json()).resourceType).toBe("OperationOutcome");
    // the same through a create naming the victim's id, and through a bundle
    const create = await attacker.send("POST", "/fhir/Condition", condition(p1.plain, p2.id, HYPERTENSION));
    if (create.status === 201) expect((await create.json()).id).not.toBe(p1.plain);
    const bundle = await attacker.send("POST", "/fhir", {
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          resource: condition(p1.plain, p2.id, HYPERTENSION),
          request: { method: "PUT", url: `Condition/${p1.plain}` },
        },
      ],
    });
    expect(bundle.status).toBe(404);

    expect((await attacker.get(`/fhir/Condition/${p1.plain}/_history`)).status).toBe(404);
    expect((await attacker.get(`/fhir/Condition/${p1.plain}/_history/1`)).status).toBe(404);
    expect((await attacker.get(`/fhir/Condition/${p1.plain}`)).status).toBe(404);

    // patient 1 still owns their record, unchanged
    const owner = await n.as(p1.account);
    const mine = await owner.get(`/fhir/Condition/${p1.plain}`);
    expect(mine.status).toBe(200);
    const body = await mine.json();
    expect(body.subject.reference).toBe(`Patient/${p1.id}`);
    expect(body.meta.versionId).toBe("1");
    const history = await (await owner.get(`/fhir/Condition/${p1.plain}/_history`)).json();
    expect(history.total).toBe(1);

    // every attempt is in patient 1's access log, as a denial naming the attacker
    const denials = (await n.entriesAbout(p1.account.address)).filter(
      (e) => e.decision === "deny" && e.actor.account === p2.account.address,
    );
    expect(denials).toHaveLength(5);
    expect(denials.filter((e) => e.action === "update")).toHaveLength(2);
    for (const e of denials) expect(e.resources?.[0]).toMatch(new RegExp(`^Condition/${p1.plain}`));
  });

  it("never moves a resource to another patient, even for a writer with rights on both", async () => {
    const { p1, p2 } = n;
    const doc = await n.as(n.doc);
    const moved = await doc.send(
      "PUT",
      `/fhir/Condition/${p1.plain}`,
      condition(p1.plain, p2.id, HYPERTENSION),
    );
    expect(moved.status).toBe(409);
    const outcome = await moved.json();
    expect(outcome.resourceType).toBe("OperationOutcome");
    expect(outcome.issue[0].diagnostics).toMatch(/never changes patient/);
    expect(outcome.issue[0].expression).toEqual(["Condition.subject"]);
    const denial = (await n.entriesAbout(p1.account.address)).find(
      (e) => e.decision === "deny" && e.actor.account === n.doc.address && e.action === "update",
    );
    expect(denial?.reason).toMatch(/never changes patient/);
    // the same writer may still amend it for the same patient
    const amended = await doc.send("PUT", `/fhir/Condition/${p1.plain}`, {
      ...condition(p1.plain, p1.id, HYPERTENSION),
      recordedDate: "2024-03-02",
    });
    expect(amended.status).toBe(200);
    expect((await amended.json()).meta.versionId).toBe("2");
  });

  it("lets no one without rights on the current version write over it, whatever the new version says", async () => {
    const { p1 } = n;
    // the hospital researcher has no right on patient 1's record; neither has the GP of another organization
    for (const who of [n.researcher, n.gp]) {
      const s = await n.as(who);
      const res = await s.send(
        "PUT",
        `/fhir/Condition/${p1.plain}`,
        condition(p1.plain, p1.id, HYPERTENSION),
      );
      expect(res.status).toBe(404);
    }
    const owner = await n.as(p1.account);
    expect((await (await owner.get(`/fhir/Condition/${p1.plain}`)).json()).meta.versionId).toBe("2");
  });
});
