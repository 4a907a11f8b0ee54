import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "./attackNode.js";

/**
 * Issue 13 item 4 and part of 7: a practitioner of another organization overwrites the hosting
 * hospital's directory records (Organization, Practitioner), and the change is recorded as the
 * hospital's; directory searches are served unaudited. Directory resources are written only by the
 * organization that owns them (or the node's own jobs) and recorded as that organization's.
 */
describe.each(engines)("directory writes (%s)", (engine) => {
  let n: AttackNode;
  let hospital: string;
  beforeAll(async () => {
    n = await startAttackNode(engine, "dir");
    hospital = n.node.context.organizationId.toLowerCase();
  }, 120_000);
  afterAll(async () => n?.dispose());

  const org = (id: string, name: string) => ({ resourceType: "Organization", id, name, active: true });

  it("refuses another organization's practitioner an overwrite of the hospital's directory records", async () => {
    const doc = await n.as(n.doc);
    const created = await doc.send("PUT", "/fhir/Organization/hospital-dir", org("hospital-dir", "Hospital"));
    expect(created.status).toBe(201);
    expect((await created.json()).meta.source).toBe(`urn:carechain:org:${hospital}`);
    const practitioner = await doc.send("POST", "/fhir/Practitioner", {
      resourceType: "Practitioner",
      id: "doc-dir",
      name: [{ family: "House" }],
    });
    expect(practitioner.status).toBe(201);

    const gp = await n.as(n.gp);
    const overwrite = await gp.send(
      "PUT",
      "/fhir/Organization/hospital-dir",
      org("hospital-dir", "Taken over"),
    );
    expect(overwrite.status).toBe(403);
    expect((await overwrite.json()).issue[0].diagnostics).toMatch(/owning organization/);
    const pract = await gp.send("PUT", "/fhir/Practitioner/doc-dir", {
      resourceType: "Practitioner",
      id: "doc-dir",
      name: [{ family: "Impostor" }],
    });
    expect(pract.status).toBe(403);
    // a patient cannot either
    const patient = await n.as(n.p2.account);
    expect(
      (await patient.send("PUT", "/fhir/Organization/hospital-dir", org("hospital-dir", "Mine"))).status,
    ).toBe(403);

    const now = await (await doc.get("/fhir/Organization/hospital-dir")).json();
    expect(now.name).toBe("Hospital");
    expect(now.meta.versionId).toBe("1");
  });

  it("records a directory resource as its writer's organization's, and only that organization amends it", async () => {
    const gp = await n.as(n.gp);
    const created = await gp.send("POST", "/fhir/Organization", org("clinic-dir", "Elm Street GP"));
    expect(created.status).toBe(201);
    expect((await created.json()).meta.source).toBe(`urn:carechain:org:${n.clinic.toLowerCase()}`);
    const amended = await gp.send(
      "PUT",
      "/fhir/Organization/clinic-dir",
      org("clinic-dir", "Elm Street GP (2)"),
    );
    expect(amended.status).toBe(200);
    const doc = await n.as(n.doc);
    expect(
      (await doc.send("PUT", "/fhir/Organization/clinic-dir", org("clinic-dir", "Ours now"))).status,
    ).toBe(403);
    const row = await n.node.context.store.db
      .selectFrom("resource_versions")
      .select(["author_org", "version_id"])
      .where("type", "=", "Organization")
      .where("id", "=", "clinic-dir")
      .orderBy("version_id")
      .execute();
    expect(row.map((r) => r.author_org.toLowerCase())).toEqual([
      n.clinic.toLowerCase(),
      n.clinic.toLowerCase(),
    ]);
  });

  it("audits directory searches and reads", async () => {
    const gp = await n.as(n.gp);
    const { audit } = n.node.services;
    await audit.flush();
    const before = audit.size();
    const search = await gp.get("/fhir/Organization?_count=10");
    expect(search.status).toBe(200);
    expect((await search.json()).total).toBeGreaterThan(0);
    await audit.flush();
    const entries = (await audit.entries({ afterIndex: before - 1, limit: 1000 })).map((e) => e.entry);
    const mine = entries.filter((e) => e.actor.account === n.gp.address && e.action === "search");
    expect(mine).toHaveLength(1);
    expect(mine[0]!.resources).toContain("Organization/hospital-dir");
    expect(mine[0]!.patient).toBeUndefined();
  });
});
