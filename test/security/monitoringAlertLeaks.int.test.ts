import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../src/model/principal.js";
import type { AlertEvent } from "../../src/monitoring/alerts.js";
import { DeviceSimulator } from "../../src/monitoring/simulator.js";
import { monitoringHarness, type Harness } from "../support/monitoringHarness.js";
import { engines, freshStore, type TestStore } from "../support/stores.js";

/**
 * Attacks on the monitoring room by clinicians the patient did not consent to (or only for other
 * categories), and by another patient: none of them learns that an alert exists, or
 * anything of the readings, devices or settings, through any call the API makes; a probe of a real
 * alert id is answered exactly as one of an id that does not exist.
 */
describe.each(engines)("monitoring: who may not know an alert exists (%s)", (engine) => {
  let db: TestStore;
  let h: Harness;
  let alertId: string;
  const attackers: Record<string, Principal> = {};
  const heard: Record<string, AlertEvent[]> = {};
  const sim = new DeviceSimulator({ seed: 11 });

  beforeAll(async () => {
    db = await freshStore(engine);
    h = monitoringHarness(db.store);
    const patient = h.addPatient("victim");
    const other = h.addPatient("other");
    const nurse = h.practitioner("nurse");
    h.grant(patient, nurse, ["vitals", "device-readings"]);
    attackers.stranger = h.practitioner("nurse");
    attackers.labsOnly = h.practitioner("nurse");
    h.grant(patient, attackers.labsOnly, ["labs"]);
    attackers.sameOrganizationPhysician = h.practitioner("physician");
    attackers.otherPatientsNurse = h.practitioner("nurse");
    h.grant(other, attackers.otherPatientsNurse, ["vitals", "device-readings"]);
    attackers.otherPatient = other;
    for (const [name, p] of Object.entries(attackers)) {
      heard[name] = [];
      h.monitoring.alerts.subscribe(p, (e) => heard[name]!.push(e));
    }
    const nurseHeard: AlertEvent[] = [];
    h.monitoring.alerts.subscribe(nurse, (e) => nurseHeard.push(e));
    const row = await h.monitoring.devices.register(patient, {
      patientId: "victim",
      publicKey: sim.keyOf(0).publicJwk,
      model: "home kit",
    });
    sim.attach(0, row.device_id);
    await h.monitoring.ingestor.ingest(sim.nextBatch(0, Date.now()));
    sim.deteriorate(0);
    for (let i = 0; i < 6 && nurseHeard.length === 0; i++) {
      await h.monitoring.ingestor.ingest(sim.nextBatch(0, Date.now() + i));
    }
    // the attack only means something if the alert exists and the consented nurse has it
    expect(nurseHeard).toHaveLength(1);
    alertId = nurseHeard[0]!.alert.id;
  });
  afterAll(async () => {
    await db.dispose();
  });

  it("no live stream of theirs carries it", () => {
    for (const name of Object.keys(attackers)) expect([name, heard[name]]).toEqual([name, []]);
  });

  it("no list shows it, and no pending delivery at stream opening", async () => {
    for (const [name, p] of Object.entries(attackers)) {
      expect([name, await h.monitoring.listAlerts(p)]).toEqual([name, []]);
      expect([name, await h.monitoring.alerts.pendingFor(p)]).toEqual([name, []]);
    }
  });

  it("acknowledging the real id is answered as for an id that does not exist", async () => {
    for (const p of Object.values(attackers)) {
      const real = await h.monitoring.alerts.ack(p, alertId).catch((e: Error) => e.message);
      const made = await h.monitoring.alerts
        .ack(p, "al-0123456789abcdef01234567")
        .catch((e: Error) => e.message);
      expect(real).toBe(made);
    }
    expect((await h.monitoring.listAlerts(h.practitioner("physician"))).length).toBe(0);
  });

  it("no reading, score, device or setting of the patient is shown to them", async () => {
    for (const [name, p] of Object.entries(attackers)) {
      expect([name, await h.monitoring.observations(p, { patient: "victim" })]).toEqual([
        name,
        { total: 0, observations: [] },
      ]);
      expect([name, await h.monitoring.fhirDevices(p, { patient: "victim" })]).toEqual([name, []]);
      expect([name, await h.monitoring.fhirDevices(p, {})]).toEqual([name, []]);
      const settings = await h.monitoring.settings(p, "victim").catch((e: Error) => e.message);
      const unknown = await h.monitoring.settings(p, "nobody").catch((e: Error) => e.message);
      expect([name, settings]).toEqual([name, unknown]);
    }
  });

  it("the patient's log names no attacker as a recipient", () => {
    const recipients = h.entries
      .filter((e) => e.resources?.includes(`Flag/${alertId}`) && e.reason === "monitoring alert delivered")
      .map((e) => e.actor.account);
    expect(recipients).toHaveLength(1);
    for (const p of Object.values(attackers)) expect(recipients).not.toContain(p.account);
  });
});
