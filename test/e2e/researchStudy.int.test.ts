import { hexToBytes, type Address, type Hex } from "viem";
import { pseudonym } from "../../src/research/deidentify.js";
import { StudySecrets } from "../../src/research/studyRecords.js";
import { describe, expect, it } from "vitest";
import { derivePayoutAccount } from "../../src/research/researchConsent.js";
import type { FhirResource } from "../../src/records/fhirTypes.js";
import { until } from "../support/careNode.js";
import { identifiersOf, syntheticPatient, type SyntheticPatient } from "../support/researchCohort.js";
import { diabetesStudy, enroll, recordPatient, researchConsortium } from "../support/researchConsortium.js";
import { signIn, type Session } from "../support/session.js";

/**
 * A study across two nodes: its criteria match 20 synthetic patients (10 at the research
 * organization's node R, 10 at the hospital H; 3 more at each do not match); 12 enroll (6 at
 * each); the release holds exactly those 12, passes k, and contains none of the identifiers of the
 * source records; each of the 12 is paid exactly once; a withdrawn patient is absent from the next
 * release and not paid for it, while the others are paid again.
 */
describe("a research study across the consortium", () => {
  const c = researchConsortium();
  const REWARD = 250n;
  const cohort: { node: "R" | "H"; patient: SyntheticPatient }[] = [];
  for (let i = 0; i < 26; i++)
    cohort.push({ node: i % 2 === 0 ? "R" : "H", patient: syntheticPatient(i, "e2e", i < 20) });
  const matching = cohort.filter((p) => p.patient.matches);
  // 6 at each node, 3 women and 3 men (k = 3 over sex, birth band, state, ZIP3 at each node)
  const enrolling = [
    ...matching.filter((p) => p.node === "R").slice(0, 6),
    ...matching.filter((p) => p.node === "H").slice(0, 6),
  ];
  const sessions = new Map<string, Session>();
  const node = (n: "R" | "H") => (n === "R" ? c.R : c.H);
  let studyId: Hex;
  const payouts = new Map<string, Address>();
  let firstRelease = "";

  const release = async () => {
    const res = await c.researcher.send("POST", `/research/studies/${studyId}/releases`, {});
    const body = (await res.json()) as {
      merged: { participants: number; resources: FhirResource[]; k: number };
      parts: { organization: Hex }[];
      missing: unknown[];
    };
    expect(res.status, JSON.stringify(body)).toBe(201);
    return body;
  };
  const balance = (account: Address) => c.R.services.studyLedger.balanceOf(account);

  it("matches 20 patients across both nodes, each seeing the study in their own view", async () => {
    for (const { node: n, patient } of cohort) await recordPatient(c.doctors[n], patient);
    // escrow for 40 contributions: two releases of 12 and one more participant
    const created = await c.researcher.send(
      "POST",
      "/research/studies",
      diabetesStudy({ maxParticipants: 40, budget: 10_000 }),
    );
    const study = (await created.json()) as { studyId: Hex; outboxIds: number[]; notShared: unknown[] };
    expect(created.status, JSON.stringify(study)).toBe(201);
    expect(study.notShared).toEqual([]);
    studyId = study.studyId;
    await c.R.services.studyLedger.settled(study.outboxIds);
    // H received the definition and checked it against the ledger
    expect(
      (await c.H.context.store.db.selectFrom("research_studies").select("study_id").execute()).length,
    ).toBe(1);

    let seen = 0;
    for (const { node: n, patient } of cohort) {
      const session = await signIn(node(n).url, patient.account);
      sessions.set(patient.patientId, session);
      const view = (await (await session.get("/patients/me/studies")).json()) as {
        matching: { studyId: Hex; definition: { reward: number } }[];
      };
      const sees = view.matching.some((s) => s.studyId === studyId);
      expect(sees, patient.patientId).toBe(patient.matches);
      if (sees) seen++;
    }
    expect(seen).toBe(20);
  }, 240_000);

  it("enrolls 12 with signed research consents; a second enrollment is refused", async () => {
    for (const { node: n, patient } of enrolling) {
      const res = await enroll(
        node(n),
        sessions.get(patient.patientId)!,
        patient.account,
        c.chainId,
        studyId,
        ["demographics", "conditions", "labs", "medications"],
      );
      expect(res.status, await res.clone().text()).toBe(201);
      payouts.set(
        patient.patientId,
        (await derivePayoutAccount(patient.account, c.chainId, studyId)).address,
      );
    }
    const first = enrolling[0]!;
    const again = await enroll(
      c.R,
      sessions.get(first.patient.patientId)!,
      first.patient.account,
      c.chainId,
      studyId,
      ["demographics", "conditions", "labs", "medications"],
    );
    expect(again.status).toBe(409);
    expect(JSON.stringify(await again.json())).toContain("already enrolled in this study");
    await until(async () => (await c.R.services.studyLedger.study(studyId))?.enrolled === 12, 30_000);
    expect((await c.R.services.studyLedger.study(studyId))?.enrolled).toBe(12);
  }, 120_000);

  it("releases only the 12, k passes, no identifier of the source records, each paid exactly once", async () => {
    const body = await release();
    expect(body.missing).toEqual([]);
    expect(body.parts.length).toBe(2);
    const patients = body.merged.resources.filter((r) => r.resourceType === "Patient");
    expect(patients.length).toBe(12);
    expect(body.merged.participants).toBe(12);
    expect(body.merged.k).toBeGreaterThanOrEqual(3);
    // only enrolled patients' resources: 12 conditions (all diabetes), 12 HbA1c, 12 prescriptions
    expect(body.merged.resources.filter((r) => r.resourceType === "Condition").length).toBe(12);
    expect(body.merged.resources.length).toBe(48);
    // pseudonyms, hashes and nonces are long hex strings that may hold any digit run: out of the scan
    const whole = JSON.stringify(body).toLowerCase();
    const text = whole.replace(/[0-9a-f]{16,}/g, "#");
    for (const { patient } of cohort)
      for (const id of identifiersOf(patient.resources)) expect(text.includes(id), id).toBe(false);
    for (const { patient } of cohort)
      expect(whole).not.toContain(patient.account.address.slice(2).toLowerCase());
    expect(text).not.toContain("diabetes noted by");
    expect(text).not.toContain('"note"');

    for (const { patient } of enrolling)
      expect(
        await until(async () => (await balance(payouts.get(patient.patientId)!)) === REWARD, 30_000),
      ).toBe(true);
    // the payouts are settled: nothing more arrives
    await new Promise((r) => setTimeout(r, 1500));
    for (const { patient } of enrolling) expect(await balance(payouts.get(patient.patientId)!)).toBe(REWARD);
    // the patient sees it in their own view
    const first = enrolling[0]!;
    const earnings = (await (
      await sessions.get(first.patient.patientId)!.get("/patients/me/earnings")
    ).json()) as {
      balance: string;
      history: { kind: string; amount: string }[];
    };
    expect(earnings.balance).toBe(REWARD.toString());
    expect(earnings.history.filter((h) => h.kind === "paid").map((h) => h.amount)).toEqual([
      REWARD.toString(),
    ]);
    // the release is in every contributor's audit trail, at the node that released them
    for (const { node: n, patient } of enrolling) {
      const entries = await node(n).services.audit.entries({ patient: patient.account.address, limit: 1000 });
      const released = entries.filter((e) => e.entry.action === "release");
      expect(released.length, patient.patientId).toBe(1);
    }
    // and in no one else's
    for (const { node: n, patient } of cohort.filter((p) => !enrolling.includes(p))) {
      const entries = await node(n).services.audit.entries({ patient: patient.account.address, limit: 1000 });
      expect(entries.filter((e) => e.entry.action === "release").length).toBe(0);
    }
    firstRelease = JSON.stringify(body);
  }, 120_000);

  it("leaves a withdrawn patient out of the next release and does not pay them again", async () => {
    const gone = enrolling.find((p) => p.node === "H")!;
    const res = await sessions
      .get(gone.patient.patientId)!
      .send("POST", `/patients/me/studies/${studyId}/withdraw`, {});
    const view = (await res.json()) as { withdrawnAt: string | null; released: unknown[] };
    expect(res.status).toBe(200);
    expect(view.withdrawnAt).not.toBeNull();
    // what was released before is stated as such
    expect(view.released.length).toBe(1);
    // H holds 5 enrolled: 3 women and 2 men, or 2 and 3; k is 3 over sex: H's part is refused
    // below k and R's part is released alone. Enroll a seventh H patient of the withdrawn one's sex.
    const extra = matching
      .filter((p) => p.node === "H")
      .find((p) => p.patient.gender === gone.patient.gender && !enrolling.includes(p))!;
    const enrolled = await enroll(
      c.H,
      sessions.get(extra.patient.patientId)!,
      extra.patient.account,
      c.chainId,
      studyId,
      ["demographics", "conditions", "labs", "medications"],
    );
    expect(enrolled.status).toBe(201);
    await c.H.services.studyLedger.settled([((await enrolled.json()) as { outboxId: number }).outboxId]);
    const extraPayout = (await derivePayoutAccount(extra.patient.account, c.chainId, studyId)).address;

    const body = await release();
    expect(body.missing).toEqual([]);
    const patients = body.merged.resources.filter((r) => r.resourceType === "Patient");
    expect(patients.length).toBe(12);
    const text = JSON.stringify(body).toLowerCase();
    const scanned = text.replace(/[0-9a-f]{16,}/g, "#");
    for (const id of identifiersOf(gone.patient.resources)) expect(scanned.includes(id)).toBe(false);
    // the withdrawn patient's study pseudonym was in the first release and is not in this one
    const secret = new StudySecrets(hexToBytes(c.H.context.key.privateKey)).secret(studyId);
    const goneId = pseudonym(secret, gone.patient.account.address);
    expect(firstRelease).toContain(goneId);
    expect(text).not.toContain(goneId);

    const stayed = enrolling.filter((p) => p !== gone);
    for (const { patient } of stayed)
      expect(
        await until(async () => (await balance(payouts.get(patient.patientId)!)) === 2n * REWARD, 30_000),
      ).toBe(true);
    expect(await until(async () => (await balance(extraPayout)) === REWARD, 30_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await balance(payouts.get(gone.patient.patientId)!)).toBe(REWARD);
  }, 120_000);

  it("releases a DP aggregate over the enrolled cohort of both nodes, its ε spent on the ledger by each", async () => {
    const created = await c.researcher.send(
      "POST",
      "/research/studies",
      diabetesStudy({
        title: "Mean HbA1c in type 2 diabetes",
        request: { categories: ["labs"] },
        release: {
          kind: "aggregate",
          statistic: "mean",
          measure: { of: "observation", code: "4548-4", unit: "%" },
          bounds: [4, 14],
        },
      }),
    );
    const study = (await created.json()) as { studyId: Hex };
    expect(created.status).toBe(201);
    const outboxIds: number[] = [];
    for (const { node: n, patient } of enrolling.slice(0, 8)) {
      const res = await enroll(
        node(n),
        sessions.get(patient.patientId)!,
        patient.account,
        c.chainId,
        study.studyId,
        ["labs"],
      );
      expect(res.status).toBe(201);
      outboxIds.push(((await res.json()) as { outboxId: number }).outboxId);
    }
    await until(async () => (await c.R.services.studyLedger.study(study.studyId))?.enrolled === 8, 30_000);
    const res = await c.researcher.send("POST", `/research/studies/${study.studyId}/releases`, {
      epsilon: 0.5,
    });
    const body = (await res.json()) as {
      merged: {
        statistic: string;
        result: { value: number | null; sum: { scale: number }; count: { value: number } };
      };
      parts: { epsilon: number }[];
    };
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body.merged.statistic).toBe("mean");
    expect(body.parts.map((p) => p.epsilon)).toEqual([0.5, 0.5]);
    // sum clamped to 14 per person at ε/4 (ε/2 per node's mean, half of it for the sum): scale 56
    expect(body.merged.result.sum.scale).toBe(56);
    expect(body.merged.result.value).not.toBeNull();
    expect((await c.R.services.studyLedger.study(study.studyId))?.epsilonSpentMicros).toBe(1_000_000n);
    // a third release of 0.5 would exceed the budget of 1 at both nodes
    const over = await c.researcher.send("POST", `/research/studies/${study.studyId}/releases`, {
      epsilon: 0.5,
    });
    expect(over.status).toBe(409);
  }, 120_000);
});
