import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monitoringHarness, type Harness } from "../../test/support/monitoringHarness.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import type { Principal } from "../model/principal.js";
import type { AlertEvent } from "./alerts.js";
import { batchSigner, type BatchPayload, type DeviceReading } from "./batch.js";
import { generateDeviceKey } from "./deviceKeys.js";
import type { MonitoringDeviceRow } from "./monitoringTables.js";

const normal = (at: number): DeviceReading[] => [
  { kind: "heart-rate", value: 72, unit: "/min", at },
  { kind: "spo2", value: 97, unit: "%", at },
  { kind: "systolic", value: 125, unit: "mm[Hg]", at },
  { kind: "diastolic", value: 80, unit: "mm[Hg]", at },
  { kind: "temperature", value: 36.8, unit: "Cel", at },
  { kind: "respiratory-rate", value: 15, unit: "/min", at },
  { kind: "acvpu", value: "A", at },
];

describe.each(engines)("monitoring room (%s)", (engine) => {
  let db: TestStore;
  let h: Harness;
  let patient: Principal;
  let nurse: Principal;
  let stranger: Principal;
  let device: MonitoringDeviceRow;
  let sign: (p: BatchPayload) => ReturnType<ReturnType<typeof batchSigner>>;
  let seq = 0;
  const batch = (readings: DeviceReading[], extra: Partial<BatchPayload> = {}) =>
    sign({ device: device.device_id, batchId: `b${seq++}`, sentAt: Date.now(), readings, ...extra });

  beforeAll(async () => {
    db = await freshStore(engine);
    h = monitoringHarness(db.store, { limits: { batchesPerSecond: 50, readingsPerSecond: 5000 } });
    patient = h.addPatient("pat-1");
    nurse = h.practitioner("nurse");
    stranger = h.practitioner("nurse");
    h.grant(patient, nurse, ["vitals", "device-readings"], ["read"]);
    const key = generateDeviceKey();
    sign = batchSigner(key.privatePem);
    device = await h.monitoring.devices.register(patient, {
      patientId: "pat-1",
      publicKey: key.publicJwk,
      model: "pulse oximeter",
    });
  });
  afterAll(async () => {
    h.monitoring.stop();
    await db.dispose();
  });

  it("registers devices for the patient, and for the care team only with a write grant", async () => {
    const key = generateDeviceKey();
    await expect(
      h.monitoring.devices.register(nurse, { patientId: "pat-1", publicKey: key.publicJwk, model: "cuff" }),
    ).rejects.toThrow("no Patient with this id");
    const coordinator = h.practitioner("care-coordinator");
    h.grant(patient, coordinator, ["device-readings"], ["read", "write"]);
    const row = await h.monitoring.devices.register(coordinator, {
      patientId: "pat-1",
      publicKey: key.publicJwk,
      model: "cuff",
    });
    expect(row.patient_id).toBe("pat-1");
    expect((await h.monitoring.devices.list(nurse, "pat-1")).map((d) => d.device_id)).toContain(
      row.device_id,
    );
    await expect(h.monitoring.devices.list(stranger, "pat-1")).rejects.toThrow("no Patient with this id");
  });

  it("stores a signed batch once, however often it is sent, and readings once, however often repeated", async () => {
    const at = Date.now() - 1000;
    const first = batch(normal(at));
    expect(await h.monitoring.ingestor.ingest(first)).toMatchObject({
      accepted: 7,
      duplicates: 0,
      replayed: false,
      refused: [],
    });
    // resent: its readings are known to this process, and its batch id to the database
    expect(await h.monitoring.ingestor.ingest(first)).toMatchObject({ accepted: 0, duplicates: 7 });
    // the same readings again in a new batch, one new reading beside them, in another order
    const again = await h.monitoring.ingestor.ingest(
      batch([...normal(at).reverse(), { kind: "heart-rate", value: 74, unit: "/min", at: at - 500 }]),
    );
    expect(again).toMatchObject({ accepted: 1, duplicates: 7 });
    const rows = await h.monitoring.db
      .selectFrom("monitoring_batches")
      .select(["batch_id", "readings"])
      .where("device_id", "=", device.device_id)
      .execute();
    expect(rows.map((r) => Number(r.readings)).sort()).toEqual([1, 7]);
  });

  it("keeps readings encrypted at rest and reads them back as FHIR Observations under consent", async () => {
    const row = await h.monitoring.db
      .selectFrom("monitoring_batches")
      .select("blob")
      .where("device_id", "=", device.device_id)
      .executeTakeFirstOrThrow();
    const text = Buffer.from(row.blob).toString("latin1");
    expect(text).not.toMatch(/heart-rate|spo2|acvpu/);
    const found = await h.monitoring.observations(nurse, {
      patient: "pat-1",
      code: "http://loinc.org|8867-4",
    });
    expect(found.total).toBe(2);
    expect(found.observations[0]).toMatchObject({
      resourceType: "Observation",
      code: { coding: [{ system: "http://loinc.org", code: "8867-4" }] },
      valueQuantity: { value: 72, code: "/min", system: "http://unitsofmeasure.org" },
      subject: { reference: "Patient/pat-1" },
      device: { reference: `Device/${device.device_id}` },
    });
    const all = await h.monitoring.observations(nurse, { patient: "Patient/pat-1" });
    // 8 readings and the NEWS2 score their first batch completed
    expect(all.total).toBe(9);
    const score = all.observations.find((o) => (o.code as { text: string }).text === "NEWS2");
    expect(score).toMatchObject({ valueInteger: 0 });
    expect((score!.derivedFrom as unknown[]).length).toBe(6);
    expect(await h.monitoring.observations(stranger, { patient: "pat-1" })).toEqual({
      total: 0,
      observations: [],
    });
    expect(h.entries.some((e) => e.actor.account === stranger.account && e.decision === "deny")).toBe(true);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await h.monitoring.observations(nurse, { patient: "pat-1", date: `ge${future}` })).total).toBe(0);
  });

  it("normalizes units with UCUM and refuses impossible values, wrong units and bad times, per reading", async () => {
    const at = Date.now();
    const result = await h.monitoring.ingestor.ingest(
      batch([
        { kind: "temperature", value: 98.6, unit: "[degF]", at },
        { kind: "glucose", value: 90, unit: "mg/dL", at },
        { kind: "spo2", value: 140, unit: "%", at },
        { kind: "heart-rate", value: -5, unit: "/min", at },
        { kind: "heart-rate", value: 70, unit: "kg", at: at + 1 },
        { kind: "heart-rate", value: 70, unit: "furlongs", at: at + 2 },
        { kind: "heart-rate", value: 70, at: at + 3 },
        { kind: "heart-rate", value: 70, unit: "/min", at: Date.now() + 3_600_000 },
        { kind: "heart-rate", value: 70, unit: "/min", at: Date.now() - 30 * 86_400_000 },
      ]),
    );
    expect(result.accepted).toBe(2);
    expect(result.refused).toEqual([
      { index: 2, reason: "out-of-range" },
      { index: 3, reason: "out-of-range" },
      { index: 4, reason: "unit-not-convertible" },
      { index: 5, reason: "unit-not-convertible" },
      { index: 6, reason: "unit-missing" },
      { index: 7, reason: "in-the-future" },
      { index: 8, reason: "too-old" },
    ]);
    const temp = await h.monitoring.observations(nurse, { patient: "pat-1", code: "8310-5", _count: "1" });
    expect(temp.observations[0]).toMatchObject({ valueQuantity: { value: 37, code: "Cel" } });
    const glucose = await h.monitoring.observations(nurse, { patient: "pat-1", code: "15074-8" });
    expect(glucose.observations[0]).toMatchObject({ valueQuantity: { value: 4.996, code: "mmol/L" } });
    expect(h.monitoring.ingestor.refusals.of(device.device_id)).toMatchObject({
      "out-of-range": 2,
      "unit-not-convertible": 2,
      "unit-missing": 1,
      "in-the-future": 1,
      "too-old": 1,
    });
  });

  it("refuses whole batches: bad signature, unknown device, clock skew, revoked device", async () => {
    const good = batch(normal(Date.now()));
    const forged = { ...good, signature: batch(normal(Date.now() - 5)).signature };
    await expect(h.monitoring.ingestor.ingest(forged)).rejects.toThrow("batch signature does not verify");
    await expect(
      h.monitoring.ingestor.ingest({ ...good, device: "dev-000000000000000000000000" }),
    ).rejects.toThrow("unknown device");
    await expect(
      h.monitoring.ingestor.ingest(batch(normal(Date.now()), { sentAt: Date.now() - 3_600_000 })),
    ).rejects.toThrow("sentAt is outside the clock-skew bound");
    await expect(h.monitoring.ingestor.ingest({ device: 5 })).rejects.toThrow("batch envelope is malformed");
    const key = generateDeviceKey();
    const other = await h.monitoring.devices.register(patient, {
      patientId: "pat-1",
      publicKey: key.publicJwk,
      model: "thermometer",
    });
    await h.monitoring.devices.revoke(patient, other.device_id);
    const signOther = batchSigner(key.privatePem);
    await expect(
      h.monitoring.ingestor.ingest(
        signOther({
          device: other.device_id,
          batchId: "x",
          sentAt: Date.now(),
          readings: normal(Date.now()),
        }),
      ),
    ).rejects.toThrow("device is revoked");
    expect(h.monitoring.ingestor.refusals.of(device.device_id)).toMatchObject({
      "bad-signature": 1,
      "sent-at-out-of-bounds": 1,
    });
    expect(h.monitoring.ingestor.refusals.of(other.device_id)).toMatchObject({ "device-revoked": 1 });
    const stored = await h.monitoring.db
      .selectFrom("monitoring_batches")
      .select("batch_id")
      .where("device_id", "=", other.device_id)
      .execute();
    expect(stored).toEqual([]);
  });

  it("a flood from one device is refused by its own budget while another device goes on", async () => {
    const floodKey = generateDeviceKey();
    const flooder = await h.monitoring.devices.register(patient, {
      patientId: "pat-1",
      publicKey: floodKey.publicJwk,
      model: "faulty",
    });
    const signFlood = batchSigner(floodKey.privatePem);
    // 400 batches at once: the budget is 50 a second with 4 seconds of burst
    const results = await Promise.allSettled(
      Array.from({ length: 400 }, (_, i) =>
        h.monitoring.ingestor.ingest(
          signFlood({
            device: flooder.device_id,
            batchId: `f${i}`,
            sentAt: Date.now(),
            readings: [{ kind: "heart-rate", value: 70, unit: "/min", at: Date.now() - 10_000 + i }],
          }),
        ),
      ),
    );
    const refusedWith = results.flatMap((r) =>
      r.status === "rejected" ? [(r.reason as Error).message] : [],
    );
    expect(new Set(refusedWith)).toEqual(new Set(["device batch rate exceeded"]));
    const limited = refusedWith.length;
    // the 400 share one device lookup, so they meet the budget together: 200 go through, the rest
    // are refused (less what the budget regains in the few milliseconds they take)
    expect(limited).toBeGreaterThanOrEqual(190);
    expect(h.monitoring.ingestor.refusals.of(flooder.device_id)["rate-limited"]).toBe(limited);
    expect(
      await h.monitoring.ingestor.ingest(
        batch([{ kind: "heart-rate", value: 71, unit: "/min", at: Date.now() - 100 }]),
      ),
    ).toMatchObject({ accepted: 1 });
  });

  it("alerts the consented nurse live, never the stranger; ack and escalation are audited", async () => {
    const physician = h.practitioner("physician");
    h.grant(patient, physician, ["vitals", "device-readings"], ["read"]);
    const setter = h.practitioner("physician");
    h.grant(patient, setter, ["vitals", "device-readings"], ["read", "write"]);
    await h.monitoring.setSettings(setter, "pat-1", {
      escalation: [{ role: "nurse" }, { role: "physician" }],
      escalateAfterSeconds: 1,
    });
    await expect(h.monitoring.setSettings(nurse, "pat-1", {})).rejects.toThrow("no Patient with this id");
    const got = { nurse: [] as AlertEvent[], stranger: [] as AlertEvent[], physician: [] as AlertEvent[] };
    h.monitoring.alerts.subscribe(nurse, (e) => got.nurse.push(e));
    h.monitoring.alerts.subscribe(stranger, (e) => got.stranger.push(e));
    h.monitoring.alerts.subscribe(physician, (e) => got.physician.push(e));
    const at = Date.now() - 50;
    const result = await h.monitoring.ingestor.ingest(
      batch([
        { kind: "heart-rate", value: 135, unit: "/min", at },
        { kind: "spo2", value: 90, unit: "%", at },
        { kind: "respiratory-rate", value: 26, unit: "/min", at },
        { kind: "systolic", value: 95, unit: "mm[Hg]", at },
        { kind: "temperature", value: 39.4, unit: "Cel", at },
        { kind: "acvpu", value: "A", at },
      ]),
    );
    expect(result.score).toMatch(/^Observation\/news2-/);
    expect(got.nurse).toHaveLength(1);
    expect(got.nurse[0]).toMatchObject({
      type: "alert",
      alert: { triggers: [{ rule: "news2-high" }], news2: { total: 13, risk: "high" }, step: 0 },
    });
    expect(got.stranger).toEqual([]);
    expect(got.physician).toEqual([]);
    const id = got.nurse[0]!.alert.id;
    expect(await h.monitoring.listAlerts(stranger)).toEqual([]);
    await expect(h.monitoring.alerts.ack(stranger, id)).rejects.toThrow("no alert with this id");

    // nobody acknowledges: one second later the physician gets it
    await new Promise((r) => setTimeout(r, 1100));
    expect(await h.monitoring.alerts.escalateDue()).toBe(1);
    expect(got.physician).toHaveLength(1);
    expect(got.physician[0]).toMatchObject({ type: "alert", alert: { id, step: 1 } });
    expect(got.stranger).toEqual([]);

    const acked = await h.monitoring.alerts.ack(physician, id);
    expect(acked.acknowledged?.by).toBe(physician.account.toLowerCase());
    expect(got.nurse.at(-1)).toMatchObject({ type: "ack" });
    expect(got.stranger).toEqual([]);
    const reasons = h.entries.filter((e) => e.resources?.includes(`Flag/${id}`)).map((e) => e.reason);
    expect(reasons).toEqual([
      "monitoring alert raised",
      "monitoring alert delivered",
      "monitoring alert escalated to step 1",
      "monitoring alert delivered",
      "monitoring alert acknowledged",
    ]);
    // the condition persists: no second alert for the next batch, a worse one would
    await h.monitoring.ingestor.ingest(
      batch([{ kind: "heart-rate", value: 136, unit: "/min", at: at + 10 }]),
    );
    expect(got.nurse.filter((e) => e.type === "alert")).toHaveLength(1);
  });
});
