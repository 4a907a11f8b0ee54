import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsentGate } from "../consent/consentGate.js";
import type { Principal } from "../model/principal.js";
import { openStore, type Store } from "../store/database.js";
import { SharedState } from "../store/sharedState.js";
import { monitoringHarness, type Harness } from "../../test/support/monitoringHarness.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import type { AlertEvent } from "./alerts.js";
import { DeviceSimulator } from "./simulator.js";

/**
 * Two API processes of one organization on one database, as docs/multi-process.md runs them (here
 * two monitoring rooms with their own connections and shared-state rechecks in one test process):
 * an alert raised by ingest in one reaches the consented nurse's stream in the other within the
 * recheck bound and nobody else's; an acknowledgement in the second reaches the first; each
 * process delivers (and audits) only to its own streams, once; a REST hook is pushed once, by the
 * process that raised the alert.
 */
describe.each(engines)("monitoring alerts across API processes (%s)", (engine) => {
  let db: TestStore;
  let second: Store;
  let a: Harness;
  let b: Harness;
  const states: SharedState[] = [];
  const pushed: Record<"a" | "b", string[]> = { a: [], b: [] };
  const heard: Record<string, AlertEvent[]> = { nurseAtA: [], nurseAtB: [], strangerAtB: [] };
  let nurse: Principal;
  let stranger: Principal;
  const sim = new DeviceSimulator({ seed: 21 });

  const shared = async (store: Store) => {
    const s = new SharedState(store.db, { recheckMs: 50 });
    await s.init();
    s.start();
    states.push(s);
    return s;
  };
  const hooks = (side: "a" | "b") => ({
    admit: () => Promise.resolve(),
    push: (key: string) => {
      pushed[side].push(key);
      return Promise.resolve();
    },
  });

  beforeAll(async () => {
    db = await freshStore(engine);
    second = await openStore(db.location);
    a = monitoringHarness(db.store, { shared: await shared(db.store), hookDelivery: hooks("a") });
    const patient = a.addPatient("xp-1");
    b = monitoringHarness(second, {
      keyring: a.keyring,
      gate: new ConsentGate(a.index, { active: () => undefined }),
      patients: { accountOf: (id) => Promise.resolve(id === "xp-1" ? patient.account : undefined) },
      shared: await shared(second),
      hookDelivery: hooks("b"),
    });
    nurse = a.practitioner("nurse");
    stranger = a.practitioner("nurse");
    a.grant(patient, nurse, ["vitals", "device-readings"]);
    await a.monitoring.hooks.register(nurse, "https://pager.example/hook");
    a.monitoring.alerts.subscribe(nurse, (e) => heard.nurseAtA!.push(e));
    b.monitoring.alerts.subscribe(nurse, (e) => heard.nurseAtB!.push(e));
    b.monitoring.alerts.subscribe(stranger, (e) => heard.strangerAtB!.push(e));
    const row = await a.monitoring.devices.register(patient, {
      patientId: "xp-1",
      publicKey: sim.keyOf(0).publicJwk,
      model: "home kit",
    });
    sim.attach(0, row.device_id);
  });
  afterAll(async () => {
    for (const s of states) await s.stop();
    await second?.close();
    await db?.dispose();
  });

  const until = async (ok: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return ok();
  };

  it("an alert raised in one process reaches the consented stream of the other, once, and no one else", async () => {
    await a.monitoring.ingestor.ingest(sim.nextBatch(0, Date.now()));
    sim.deteriorate(0);
    for (let i = 0; i < 8 && heard.nurseAtA!.length === 0; i++)
      await a.monitoring.ingestor.ingest(sim.nextBatch(0, Date.now() + i));
    expect(heard.nurseAtA).toHaveLength(1);
    const raisedAt = Date.now();
    const id = heard.nurseAtA![0]!.alert.id;
    // the other process sees the version move within its recheck (50 ms here) and one query
    expect(await until(() => heard.nurseAtB!.length > 0, 2000)).toBe(true);
    expect(Date.now() - raisedAt).toBeLessThan(1000);
    expect(heard.nurseAtB!.map((e) => [e.type, e.alert.id])).toEqual([["alert", id]]);
    // the delivery at the second process is audited there, as that recipient
    expect(
      b.entries.filter(
        (e) => e.reason === "monitoring alert delivered" && e.resources?.includes(`Flag/${id}`),
      ),
    ).toHaveLength(1);
    // its own follower does not deliver it a second time; the hook is pushed once, by its raiser
    await new Promise((r) => setTimeout(r, 300));
    expect(heard.nurseAtA).toHaveLength(1);
    expect(heard.nurseAtB).toHaveLength(1);
    expect(pushed.a.filter((k) => k.includes(id))).toHaveLength(1);
    expect(pushed.b).toEqual([]);
    expect(heard.strangerAtB).toEqual([]);
  });

  it("an acknowledgement in the second process reaches the first's stream", async () => {
    const id = heard.nurseAtA![0]!.alert.id;
    const acked = await b.monitoring.alerts.ack(nurse, id);
    expect(acked.acknowledged?.by).toBe(nurse.account.toLowerCase());
    expect(await until(() => heard.nurseAtA!.some((e) => e.type === "ack"), 2000)).toBe(true);
    expect(heard.nurseAtA!.filter((e) => e.type === "ack").map((e) => e.alert.id)).toEqual([id]);
    await new Promise((r) => setTimeout(r, 300));
    expect(heard.nurseAtB!.filter((e) => e.type === "ack")).toHaveLength(1);
    expect(heard.strangerAtB).toEqual([]);
  });
});
