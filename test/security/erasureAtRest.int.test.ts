import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { patientKey } from "../../src/audit/auditEntry.js";
import { verifyAccessLog, type AccessLogDocument } from "../../src/audit/verifyAccessLog.js";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import { CATEGORIES } from "../../src/model/vocabulary.js";
import { engines } from "../support/stores.js";
import { condition, HIV, startAttackNode, type AttackNode } from "./attackNode.js";

/**
 * Issue 13 item 9, as whoever holds a copy of the node's database after a patient erased their
 * record: the audit log, the subscriptions' events and queued pushes, and the consent grants must
 * hold nothing from which that patient's conditions (category names or masks, decision reasons,
 * the break-glass reason, grant terms) can be read. The audit entries stay (they are hashed into the
 * anchored log) and still verify; before the erasure the patient's own check opens each entry's
 * categories and catches a tampered opening.
 */
const REASON = "suspected overdose, on antiretrovirals";
const WORDS = ["overdose", "antiretrovirals", "no-grant", "not-granted", "subscription "];

describe.each(engines)("what an erased patient leaves at rest (%s)", (engine) => {
  let n: AttackNode;
  let account: string;
  let subscriptionId: string;

  type Page = AccessLogDocument & { items: Array<{ index: number; entry: unknown; opening: unknown }> };
  const accessLog = async (): Promise<Page> =>
    (await (await (await n.as(n.p1.account)).get("/audit/me?limit=1000")).json()) as Page;
  /** Anchors everything appended so far and waits until `/audit/me` is at that size. */
  const anchoredAll = async (): Promise<Page> => {
    const { audit, anchorer } = n.node.services;
    await audit.flush();
    const size = audit.size();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const page = await accessLog();
      if (page.anchoredSize >= audit.size() && page.anchoredSize >= size) return page;
      if (Date.now() > deadline) throw new Error("the log was not anchored in time");
      await anchorer.tick(true);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const verify = (doc: Page) =>
    verifyAccessLog(doc, account, n.node.context.clients.publicClient, n.node.context.deployment.auditAnchor);

  /** The raw rows a database copy shows about the patient. */
  const dump = async () => {
    const { db } = n.node.context.store;
    await n.node.services.audit.flush();
    const entries = await db
      .selectFrom("audit_entries")
      .select(["idx", "entry"])
      .where("patient", "=", patientKey(account))
      .orderBy("idx")
      .execute();
    // (a node without openings has no such table: nothing to read there)
    const openings = await db
      .selectFrom("audit_openings")
      .selectAll()
      .where(
        "idx",
        "in",
        entries.map((e) => Number(e.idx)),
      )
      .execute()
      .catch(() => []);
    const events = await db
      .selectFrom("subscription_events")
      .selectAll()
      .where("subscription_id", "=", subscriptionId)
      .execute();
    const pushes = await db.selectFrom("push_deliveries").selectAll().execute();
    const grants = await db
      .selectFrom("consent_grants")
      .selectAll()
      .where("patient", "=", account.toLowerCase())
      .execute();
    return { entries, openings, events, pushes, grants };
  };
  /** What in a stored text names a category or a reason: a category as a JSON string, a mask key, a word. */
  const clinical = (text: string): string[] => [
    ...CATEGORIES.filter((c) => text.includes(`"${c}"`)),
    ...["categories"].filter((k) => text.includes(`"${k}"`)),
    ...WORDS.filter((w) => text.includes(w)),
  ];

  beforeAll(async () => {
    n = await startAttackNode(engine, `erasure-${engine}`);
    account = n.p1.account.address;
    // pushes stay queued, as for a subscriber's node that is down
    await n.node.services.deliveries.stop();
    const patient = await n.as(n.p1.account);
    // a grant to the GP for conditions including sexual health
    const domain = (await (await fetch(`${n.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const message = buildGrantMessage({
      patient: account as `0x${string}`,
      grantee: { kind: "practitioner", account: n.gp.address },
      categories: ["conditions", "sexual-health"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
    const granted = await fetch(`${n.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(n.p1.account, domain, message))),
    });
    expect(granted.status).toBe(201);
    // the GP subscribes by REST hook to the patient's sexual-health data
    const gp = await n.as(n.gp);
    const subscribed = await gp.send(
      "POST",
      "/subscriptions",
      {
        patient: account,
        categories: ["conditions", "sexual-health"],
        channel: "rest-hook",
        // a public address literal (no lookup); nothing is sent: the queue is stopped
        endpoint: "https://93.184.215.14/hook",
      },
      "TREAT",
    );
    expect(subscribed.status).toBe(201);
    subscriptionId = ((await subscribed.json()) as { id: string }).id;
    // a new HIV condition is written: the GP is notified
    const doc = await n.as(n.doc);
    const written = await doc.send(
      "POST",
      "/fhir",
      {
        resourceType: "Bundle",
        type: "transaction",
        entry: [
          {
            resource: condition(`hiv2-${engine}`, n.p1.id, HIV),
            request: { method: "PUT", url: `Condition/hiv2-${engine}` },
          },
        ],
      },
      undefined,
      { "x-patient-account": account },
    );
    expect(written.status).toBe(200);
    await n.node.services.subscriptions.idle();
    // the hospital's physician is refused the HIV condition (sensitive, no grant)
    expect((await doc.get(`/fhir/Condition/${n.p1.hiv}`, "TREAT")).status).toBe(404);
    // a break-glass session with a stated reason
    expect((await patient.send("PUT", "/patients/me/settings", { breakGlassAllowed: true })).status).toBe(
      200,
    );
    expect(
      (await gp.send("POST", "/break-glass", { patient: account, reason: REASON }, "ETREAT")).status,
    ).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await n?.dispose();
  });

  it("before erasure: the audit rows and subscription tables name no category; the patient's own check opens and checks them", async () => {
    const { entries, openings, events, pushes } = await dump();
    expect(entries.length).toBeGreaterThan(3);
    for (const e of entries) expect(clinical(e.entry), `entry ${e.idx}`).toEqual([]);
    expect(openings.length).toBeGreaterThan(0);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(Number(e.categories)).toBe(0);
    const queued = pushes.filter((p) => p.idem_key.startsWith(`sub:${subscriptionId}:`));
    expect(queued.length).toBeGreaterThan(0);
    for (const p of queued) expect(clinical(p.body)).toEqual([]);

    const doc = await anchoredAll();
    const verdict = await verify(doc);
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    const opened = Object.values(verdict.opened);
    expect(opened.some((f) => f.categories?.includes("sexual-health"))).toBe(true);
    expect(opened).toContainEqual({ categories: ["conditions", "sexual-health"], reason: "no-grant" });
    expect(verdict.unopened).toEqual([]);
  });

  it("a tampered opening is reported by the patient's check and the AuditEvent view", async () => {
    const doc = await anchoredAll();
    const item = doc.items.find(
      (i) => i.opening !== null && JSON.stringify(i.opening ?? null).includes("sexual-health"),
    );
    expect(item).toBeDefined();
    const { db } = n.node.context.store;
    const row = await db
      .selectFrom("audit_openings")
      .selectAll()
      .where("idx", "=", item!.index)
      .executeTakeFirstOrThrow();
    // the operator rewrites the opening to hide the sensitive category
    await db
      .updateTable("audit_openings")
      .set({ facts: '{"categories":["conditions"]}' })
      .where("idx", "=", item!.index)
      .execute();
    try {
      expect(await verify(await accessLog())).toMatchObject({
        ok: false,
        reason: "opening-mismatch",
        index: item!.index,
      });
      const bundle = (await (
        await (await n.as(n.p1.account)).get(`/fhir/AuditEvent?patient=${account}&_count=1000`)
      ).json()) as {
        entry: Array<{ resource: { id: string; extension?: Array<{ url: string; valueCode: string }> } }>;
      };
      const event = bundle.entry.find((e) => e.resource.id === String(item!.index));
      expect(event?.resource.extension).toContainEqual({
        url: "https://carechain.dev/fhir/StructureDefinition/opening",
        valueCode: "mismatch",
      });
    } finally {
      await db
        .updateTable("audit_openings")
        .set({ facts: row.facts })
        .where("idx", "=", item!.index)
        .execute();
    }
    expect((await verify(await accessLog())).ok).toBe(true);
  });

  it("after erasure: no category, mask, reason or grant term of the patient at rest; the log still verifies", async () => {
    const patient = await n.as(n.p1.account);
    expect((await patient.send("POST", `/fhir/Patient/${n.p1.id}/$erase`, {})).status).toBe(200);
    const { entries, openings, events, pushes, grants } = await dump();
    for (const e of entries) expect(clinical(e.entry), `entry ${e.idx}`).toEqual([]);
    expect(openings).toEqual([]);
    expect(events).toEqual([]);
    expect(pushes.filter((p) => p.idem_key.startsWith(`sub:${subscriptionId}:`))).toEqual([]);
    for (const p of pushes) {
      expect(clinical(p.body)).toEqual([]);
      expect(p.body.toLowerCase()).not.toContain(account.toLowerCase());
    }
    expect(grants.length).toBeGreaterThan(0);
    for (const g of grants) {
      expect(g).toMatchObject({ categories: 0, purposes: 0, actions: 0, salt: "", signature: "" });
      expect(Number(g.not_after)).toBe(0);
    }
    const sub = await n.node.context.store.db
      .selectFrom("subscriptions")
      .selectAll()
      .where("id", "=", subscriptionId)
      .executeTakeFirstOrThrow();
    expect(Number(sub.categories)).toBe(0);
    const sessions = await n.node.context.store.db
      .selectFrom("break_glass_sessions")
      .select("reason")
      .execute();
    for (const s of sessions)
      for (const word of ["overdose", "antiretrovirals"]) expect(s.reason).not.toContain(word);

    // the entries stay and verify: the operator's full check and the patient's
    const doc = await anchoredAll();
    const anchors = await n.node.services.audit.treeHeads({ status: "anchored" });
    expect(await n.node.services.audit.verifyAll(anchors)).toEqual({ ok: true });
    const verdict = await verify(doc);
    expect(verdict).toMatchObject({ ok: true });
    if (verdict.ok) {
      expect(verdict.opened).toEqual({});
      expect(verdict.unopened.length).toBeGreaterThan(0);
    }
  });
});
