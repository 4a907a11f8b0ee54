import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { AuditLog } from "../audit/auditLog.js";
import { Auditor } from "../audit/auditor.js";
import { loadOrCreateLocalKeyProvider } from "../crypto/keyProvider.js";
import { PatientKeyring } from "../crypto/patientKeys.js";
import { systemPrincipal } from "../model/principal.js";
import { getMeta } from "../store/meta.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { IntentSweeper } from "./intentSweeper.js";
import { PatientLinks } from "./patientLinks.js";

const NODE = "0x000000000000000000000000000000000000a0de" as Address;
const PATIENT = "0x00000000000000000000000000000000000000b1";

describe.each(engines)("IntentSweeper (%s)", (engine) => {
  let t: TestStore;
  let dir: string;
  let log: AuditLog;
  let auditor: Auditor;
  let now: number;
  let sweeper: IntentSweeper;
  let keyring: PatientKeyring;

  beforeEach(async () => {
    t = await freshStore(engine);
    dir = mkdtempSync(join(tmpdir(), "carechain-sweep-"));
    log = await AuditLog.open(t.store);
    auditor = new Auditor(log, NODE);
    now = Date.now();
    keyring = new PatientKeyring(t.store, loadOrCreateLocalKeyProvider(join(dir, "master-key")));
    sweeper = new IntentSweeper({
      store: t.store,
      audit: log,
      auditor,
      keyring,
      links: new PatientLinks(t.store),
      graceMs: 60_000,
      now: () => now,
    });
  });
  afterEach(async () => {
    await log.stopBackground();
    await t.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = systemPrincipal("sweep-test");
  const write = (ref: string, reason: string) =>
    auditor.record(job, { action: "create", decision: "permit", patient: PATIENT, resources: [ref], reason });
  const reasons = async () => (await log.entries({ limit: 1000 })).map((e) => e.entry.reason);

  it("leaves an intent younger than the grace period, and completes it once it is older", async () => {
    await write("Condition/b/_history/1", "intent");
    await write("Condition/b/_history/1", "committed");
    const open = await write("Condition/a/_history/1", "intent");
    expect(await sweeper.sweep()).toEqual({ completed: 0, young: 1 });
    // the checkpoint stops before the young intent, so the next sweep sees it again
    expect(Number(await getMeta(t.store.db, "audit.intents.sweptThrough"))).toBe(open - 1);
    now += 61_000;
    expect(await sweeper.sweep()).toEqual({ completed: 1, young: 0 });
    expect(await reasons()).toEqual([
      "intent",
      "committed",
      "intent",
      `not committed: completes intent ${open}`,
    ]);
    // completed intents stay completed
    expect(await sweeper.sweep()).toEqual({ completed: 0, young: 0 });
  });

  it("pairs two intents on one version with their outcomes in order", async () => {
    const first = await write("Condition/c/_history/1", "intent");
    const second = await write("Condition/c/_history/1", "intent");
    await write("Condition/c/_history/1", "not committed");
    now += 61_000;
    expect(await sweeper.sweep()).toEqual({ completed: 1, young: 0 });
    const last = (await reasons()).at(-1);
    expect(last).toBe(`not committed: completes intent ${second}`);
    expect(last).not.toBe(`not committed: completes intent ${first}`);
  });

  it("completes an erasure cut short after the key was shredded: the patient's audit openings go too", async () => {
    const patient = "patient:p9";
    await auditor.record(job, {
      action: "deny",
      decision: "deny",
      patient,
      resources: ["Condition/c9"],
      categories: ["conditions", "mental-health"],
      reason: "no-grant",
    });
    await auditor.record(job, { action: "erase", decision: "permit", patient, reason: "intent" });
    const openings = () => t.store.db.selectFrom("audit_openings").select("idx").execute();
    expect(await openings()).toHaveLength(1);
    // the process died after shredding the key, before the erasure's rows were marked
    await keyring.keyFor("Patient/p9");
    await keyring.erase("Patient/p9");
    now += 120_000;
    expect(await sweeper.sweep()).toEqual({ completed: 1, young: 0 });
    expect(await openings()).toEqual([]);
    const outcome = (await log.entries({ limit: 1000 })).at(-1);
    expect(outcome?.entry.reason).toMatch(/^committed: crypto-shredded 0 resources; completes intent 1$/);
    expect(await log.verifyAll([])).toEqual({ ok: true });
  });
});
