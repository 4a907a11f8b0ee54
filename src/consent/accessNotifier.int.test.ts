import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../audit/auditEntry.js";
import { freshStore, type TestStore } from "../../test/support/stores.js";
import { AccessNotifier } from "./accessNotifier.js";

const patient = "0x1111111111111111111111111111111111111111";
const quiet = "0x2222222222222222222222222222222222222222";
const doctor = "0x3333333333333333333333333333333333333333";

const entry = (over: Partial<AuditEntry>): AuditEntry => ({
  v: 1,
  time: new Date().toISOString(),
  requestId: "req-1",
  actor: { account: doctor, organization: "org-1", role: "physician" },
  patient,
  action: "read",
  decision: "permit",
  purpose: "TREAT",
  resources: ["Observation/a"],
  ...over,
});

describe("AccessNotifier", () => {
  let db: TestStore;
  const sent: Array<{ account: string; kind: string; detail: Record<string, unknown> }> = [];
  let notifier: AccessNotifier;

  beforeAll(async () => {
    db = await freshStore("sqlite");
    const settings = (account: string, notify: object) =>
      db.store.db
        .insertInto("patient_settings")
        .values({ account, break_glass_allowed: 0, notify: JSON.stringify(notify), updated_at: 0 })
        .execute();
    await settings(patient, { breakGlass: true, denials: true, reads: true });
    await settings(quiet, { breakGlass: true, denials: false, reads: false });
    notifier = new AccessNotifier({
      db: db.store.db,
      notifications: { notify: async (account, kind, detail) => void sent.push({ account, kind, detail }) },
      quietMs: 60_000,
    });
    await notifier.start();
  });
  afterAll(async () => {
    await notifier.stop();
    await db.dispose();
  });

  it("groups a request's entries into one access, counting what consent withheld", async () => {
    sent.length = 0;
    for (let i = 0; i < 200; i++) notifier.observe(entry({ resources: [`Observation/o${i}`] }));
    notifier.observe(
      entry({ action: "deny", decision: "deny", resources: undefined, reason: "search partly: no-grant" }),
    );
    await notifier.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.kind).toBe("access");
    expect(sent[0]!.detail).toMatchObject({ resources: 200, refusals: 1, by: doctor, purpose: "TREAT" });
  });

  it("sends a refusal as a denial, one per request and actor", async () => {
    sent.length = 0;
    notifier.observe(entry({ requestId: "r2", action: "deny", decision: "deny" }));
    notifier.observe(entry({ requestId: "r2", action: "deny", decision: "deny" }));
    notifier.observe(entry({ requestId: "r3", action: "update", decision: "deny" }));
    await notifier.flush();
    expect(sent.map((s) => s.kind)).toEqual(["denial", "denial"]);
  });

  it("says nothing about the patient's own reads, writes, pseudonymous patients or opted-out kinds", async () => {
    sent.length = 0;
    notifier.observe(entry({ actor: { account: patient } }));
    notifier.observe(entry({ action: "create" }));
    notifier.observe(entry({ patient: "patient:abc", decision: "deny", action: "deny" }));
    notifier.observe(entry({ patient: quiet }));
    notifier.observe(entry({ patient: quiet, decision: "deny", action: "deny" }));
    notifier.observe(entry({ patient: doctor.replace("3", "4") }));
    await notifier.flush();
    expect(sent).toEqual([]);
  });

  it("sends a denial to a patient with default settings, and no reads", async () => {
    sent.length = 0;
    const other = "0x5555555555555555555555555555555555555555";
    notifier.observe(entry({ patient: other, requestId: "r4" }));
    notifier.observe(entry({ patient: other, requestId: "r5", decision: "deny", action: "deny" }));
    await notifier.flush();
    expect(sent).toEqual([expect.objectContaining({ account: other, kind: "denial" })]);
  });
});
