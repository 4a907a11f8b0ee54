import { type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { signNodeRequest } from "../../src/federation/nodeAuth.js";
import { signResearchConsent, type ResearchConsent } from "../../src/research/researchConsent.js";
import { syntheticPatient } from "../support/researchCohort.js";
import { diabetesStudy, enroll, recordPatient, researchConsortium } from "../support/researchConsortium.js";
import { signIn, type Session } from "../support/session.js";

const CATEGORIES: ResearchConsent["categories"] = ["demographics", "conditions", "labs", "medications"];

/**
 * Attacks on the research room, as the attacker would make them, against two real nodes (R, a
 * research organization's node; H, a hospital on PostgreSQL when TEST_DATABASE_URL is set).
 */
describe("research study attacks", () => {
  const c = researchConsortium();
  // R holds 4 matching patients, H 4; all women (k over sex is the count at each node)
  const people = [0, 2, 4, 6, 8, 10, 12, 14].map((i, n) => ({
    node: n < 4 ? ("R" as const) : ("H" as const),
    patient: syntheticPatient(i, "sec", true),
  }));
  const sessions: Session[] = [];
  const node = (n: "R" | "H") => (n === "R" ? c.R : c.H);

  const create = async (overrides: Record<string, unknown>): Promise<Hex> => {
    const res = await c.researcher.send("POST", "/research/studies", diabetesStudy(overrides));
    const body = (await res.json()) as { studyId: Hex };
    expect(res.status, JSON.stringify(body)).toBe(201);
    return body.studyId;
  };
  const rows = async (table: "research_enrollments" | "research_releases" | "research_contributions") =>
    (await c.R.context.store.db.selectFrom(table).selectAll().execute()).length +
    (await c.H.context.store.db.selectFrom(table).selectAll().execute()).length;

  it("sets up patients at both nodes", async () => {
    for (const { node: n, patient } of people) {
      await recordPatient(c.doctors[n], patient);
      sessions.push(await signIn(node(n).url, patient.account));
    }
  }, 120_000);

  it("a patient cannot enroll another patient, nor replay another patient's signed consent", async () => {
    const studyId = await create({});
    const [alice, bob] = [people[0]!, people[1]!];
    const [aliceSession] = [sessions[0]!];
    // Alice names Bob in a consent she signs herself
    const named = await enroll(
      c.R,
      aliceSession,
      bob.patient.account,
      c.chainId,
      studyId,
      CATEGORIES,
      {},
      alice.patient.account,
    );
    expect(named.status).toBe(403);
    expect(JSON.stringify(await named.json())).toContain("a patient enrolls only themselves");
    // Alice replays a consent Bob really signed (captured on the wire)
    const consent: ResearchConsent = {
      patient: bob.patient.account.address,
      studyId,
      organization: c.R.context.organizationId,
      purpose: "HRESCH",
      categories: CATEGORIES,
      payout: alice.patient.account.address,
      mayWithdraw: true,
      issuedAt: Math.floor(Date.now() / 1000),
    };
    const signature = await signResearchConsent(bob.patient.account, c.chainId, consent);
    const replayed = await aliceSession.send("POST", `/patients/me/studies/${studyId}/enroll`, {
      consent,
      signature,
    });
    expect(replayed.status).toBe(403);
    // Alice names herself but presents Bob's signature
    const forged = await aliceSession.send("POST", `/patients/me/studies/${studyId}/enroll`, {
      consent: { ...consent, patient: alice.patient.account.address },
      signature,
    });
    expect(forged.status).toBe(403);
    expect(JSON.stringify(await forged.json())).toContain("must be signed by the patient it names");
    expect(await rows("research_enrollments")).toBe(0);
    expect((await c.R.services.studyLedger.study(studyId))?.enrolled).toBe(0);
  }, 120_000);

  it("a researcher cannot read who matches before they enroll; feasibility is a noisy count that spends ε", async () => {
    const studyId = await create({});
    const view = await c.researcher.get("/patients/me/studies");
    expect(view.status).toBe(403);
    const shown = await (await c.researcher.get(`/research/studies/${studyId}`)).text();
    for (const { patient } of people) {
      expect(shown.toLowerCase()).not.toContain(patient.account.address.toLowerCase());
      expect(shown).not.toContain(patient.patientId);
    }
    // a release before anyone enrolled releases nobody (below k)
    const early = await c.researcher.send("POST", `/research/studies/${studyId}/releases`, {});
    expect(early.status).toBe(409);
    expect(await rows("research_releases")).toBe(0);
    const feasible = await c.researcher.send("POST", `/research/studies/${studyId}/feasibility`, {
      epsilon: 0.1,
    });
    const body = (await feasible.json()) as { count: { value: number; scale: number }; parts: unknown[] };
    expect(feasible.status, JSON.stringify(body)).toBe(200);
    expect(body.parts.length).toBe(2);
    expect(body.count.scale).toBe(10);
    // both nodes' ε are on the ledger
    const onLedger = await c.R.services.studyLedger.study(studyId);
    expect(onLedger?.epsilonSpentMicros).toBe(200_000n);
  }, 120_000);

  it("a researcher of another organization cannot create, release or ask a node for a release", async () => {
    const studyId = await create({});
    // a researcher of the hospital (not a research organization) at the hospital's node
    const atH = await signIn(c.H.url, c.hospitalResearcher);
    const created = await atH.send("POST", "/research/studies", diabetesStudy());
    expect(created.status).toBe(403);
    expect(JSON.stringify(await created.json())).toContain("studies are created by research organizations");
    // the same researcher at the sponsor's node
    const atR = await signIn(c.R.url, c.hospitalResearcher);
    for (const path of [`/research/studies/${studyId}/releases`, `/research/studies/${studyId}/feasibility`])
      expect((await atR.send("POST", path, path.endsWith("releases") ? {} : { epsilon: 0.1 })).status).toBe(
        403,
      );
    expect((await atR.get(`/research/studies/${studyId}`)).status).toBe(403);
    // the hospital's node itself asks the sponsor's node for a release of the sponsor's study
    const body = JSON.stringify({ studyId, requestId: "attack" });
    const headers = await signNodeRequest(c.H.context.key.account, {
      method: "POST",
      path: "/federation/research/release",
      body,
    });
    const asked = await fetch(`${c.R.url}/federation/research/release`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
    expect(asked.status).toBe(403);
    expect(await rows("research_releases")).toBe(0);
  }, 120_000);

  it("refuses a release below k: nothing released, nothing paid", async () => {
    const studyId = await create({ minK: 5 });
    const payouts: Hex[] = [];
    for (const [i, { node: n, patient }] of people.entries()) {
      if (n !== "R") continue;
      const res = await enroll(c.R, sessions[i]!, patient.account, c.chainId, studyId, CATEGORIES);
      expect(res.status).toBe(201);
      const body = (await res.json()) as { payout: Hex; outboxId: number };
      await c.R.services.studyLedger.settled([body.outboxId]);
      payouts.push(body.payout);
    }
    const released = await c.researcher.send("POST", `/research/studies/${studyId}/releases`, {});
    expect(released.status).toBe(409);
    expect(JSON.stringify(await released.json())).toContain("below the study's minimum k");
    expect(await rows("research_releases")).toBe(0);
    expect(await rows("research_contributions")).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of payouts) expect(await c.R.services.studyLedger.balanceOf(p)).toBe(0n);
  }, 120_000);

  it("refuses queries beyond the privacy budget, also when they go to different nodes", async () => {
    const studyId = await create({
      epsilonBudget: 1,
      release: { kind: "aggregate", statistic: "count" },
      request: { categories: ["conditions"] },
    });
    const ask = (epsilon: number) =>
      c.researcher.send("POST", `/research/studies/${studyId}/feasibility`, { epsilon });
    // R and H each spend 0.3: 0.6 of 1
    const first = (await (await ask(0.3)).json()) as { missing: unknown[] };
    expect(first.missing).toEqual([]);
    // R spends 0.3 more (0.9); H's 0.3 would exceed it and is refused
    const second = (await (await ask(0.3)).json()) as { parts: unknown[]; missing: { status: number }[] };
    expect(second.parts.length).toBe(1);
    expect(second.missing).toEqual([{ organization: c.H.context.organizationId.toLowerCase(), status: 409 }]);
    // the next one is refused at R itself
    const third = await ask(0.3);
    expect(third.status).toBe(409);
    expect(JSON.stringify(await third.json())).toContain("privacy budget");
    // H alone, asked by the sponsor's node directly, refuses as well
    const body = JSON.stringify({ studyId, epsilon: 0.2 });
    const headers = await signNodeRequest(c.R.context.key.account, {
      method: "POST",
      path: "/federation/research/feasibility",
      body,
    });
    const direct = await fetch(`${c.H.url}/federation/research/feasibility`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
    expect(direct.status).toBe(409);
    expect((await c.R.services.studyLedger.study(studyId))?.epsilonSpentMicros).toBe(900_000n);
  }, 120_000);
});
