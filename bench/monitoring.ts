/**
 * Remote monitoring ingest (issue 17): on a real node (startNode: SQLite, embedded anvil, temp dir,
 * silent logs), simulated home kits (one P-256 key each, src/monitoring/simulator.ts) send signed
 * batches of 10 sets of 9 vitals (90 readings) as fast as the node takes them, through the same
 * function `POST /monitoring/batches` calls (the body parsed from its JSON text, as the route
 * would): signature checked, readings range-checked and normalized, stored in encrypted chunks,
 * scored (NEWS2, per patient) and audited (one durable audit entry per batch in the node's
 * Merkle log). Batches are signed in this process too, so the figure carries the devices' signing
 * cost as well (reported apart). Every 2 s one patient starts deteriorating; a consented nurse's
 * subscription times each alert from the submission of the batch that raised it. Then the same
 * kind of readings are written one by one as FHIR Observations through the records layer's plain
 * create path (`RecordRepository.create`, which `POST /fhir/Observation` calls). A CPU profile of
 * a few seconds of ingest says where the time goes. Peak RSS is sampled every 0.5 s.
 * Issue target: >= 100,000 readings/s with alert latency p99 <= 1 s. Reported, never asserted.
 * Run: `npx tsx bench/monitoring.ts [--quick]`.
 */
import { toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { accountToBytes32 } from "../src/consent/signConsent.js";
import type { Principal } from "../src/model/principal.js";
import { actionMask, categoryMask, purposeMask } from "../src/model/vocabulary.js";
import { DeviceSimulator } from "../src/monitoring/simulator.js";
import { startBenchNode } from "./support/benchNode.js";
import { startCpuProfile, type CategoryRule } from "./support/cpuProfile.js";
import { isMain, latencySummary, load, round, runAsScript, type BenchOptions } from "./support/report.js";

const SAMPLES_PER_BATCH = 10;
const IN_FLIGHT = 128;

const RULES: CategoryRule[] = [
  ["gc", (f) => f.functionName === "(garbage collector)"],
  ["idle", (f) => f.functionName === "(idle)"],
  [
    "ECDSA P-256 sign (simulated devices)",
    (f) => f.url.includes("internal/crypto/sig") && f.functionName.includes("sign"),
  ],
  ["ECDSA P-256 verify", (f) => f.url.includes("internal/crypto/sig")],
  ["simulator", (f) => f.url.includes("/src/monitoring/simulator")],
  [
    "AES-GCM (chunks, keys)",
    (f) => f.url.includes("internal/crypto/cipher") || f.url.includes("/src/crypto/"),
  ],
  ["database (kysely, better-sqlite3)", (f) => /kysely|better-sqlite3/.test(f.url)],
  ["audit append", (f) => f.url.includes("/src/audit/")],
  ["zod", (f) => f.url.includes("/zod/")],
  ["JSON", (f) => f.functionName === "parse" || f.functionName === "stringify"],
  ["monitoring (checks, units, scoring)", (f) => f.url.includes("/src/monitoring/")],
];

export async function runMonitoringBench({ quick }: BenchOptions): Promise<object> {
  const patients = quick ? 200 : 1000;
  const seconds = quick ? 10 : 300;
  const fhirCreates = quick ? 2000 : 20_000;
  const bench = await startBenchNode({ anchorIntervalMs: 1000 });
  const { node } = bench;
  const org = node.context.organizationId;
  const doc: Principal = {
    account: privateKeyToAccount(generatePrivateKey()).address,
    kind: "practitioner",
    organization: org,
    role: "physician",
    purpose: "TREAT",
    authenticatedBy: "siwe-session",
    requestId: "bench-setup",
  };
  const nurse: Principal = {
    ...doc,
    account: privateKeyToAccount(generatePrivateKey()).address,
    role: "nurse",
    requestId: "bench-nurse",
  };
  const sim = new DeviceSimulator({ seed: 7 });
  const m = node.services.monitoring;
  const ids: string[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < patients; i++) {
    const account = privateKeyToAccount(generatePrivateKey()).address as Address;
    const id = `mon-${i}`;
    ids.push(id);
    await node.services.records.create(doc, {
      resourceType: "Patient",
      id,
      identifier: [{ system: "https://carechain.dev/fhir/sid/account", value: account }],
    });
    // the patient's grant to the nurse, put straight into the index (a signed grant per patient
    // through the ledger would be the setup's cost, not the ingest's)
    node.services.gate.index.add({
      grantId: toHex(10_000_000 + i, { size: 32 }) as Hex,
      patient: account,
      granteeKind: "practitioner",
      grantee: accountToBytes32(nurse.account),
      role: `0x${"0".repeat(64)}`,
      categories: categoryMask(["vitals", "device-readings"]),
      purposes: purposeMask(["TREAT"]),
      actions: actionMask(["read"]),
      notBefore: now - 60,
      notAfter: now + 86_400,
      salt: toHex(i, { size: 32 }) as Hex,
    });
    const patient: Principal = { ...doc, account, kind: "patient", purpose: "PATRQT" };
    delete (patient as { organization?: Hex }).organization;
    delete (patient as { role?: string }).role;
    const row = await m.devices.register(patient, {
      patientId: id,
      publicKey: sim.keyOf(i).publicJwk,
      model: "home kit",
    });
    sim.attach(i, row.device_id);
  }

  // alert latency: from the submission of a patient's batch to the nurse's subscription
  const lastSubmit = new Map<string, number>();
  const latencies: number[] = [];
  const deteriorating = new Set<number>();
  m.alerts.subscribe(nurse, (e) => {
    if (e.type !== "alert") return;
    const sent = lastSubmit.get(e.alert.patient);
    if (sent !== undefined) latencies.push(performance.now() - sent);
    const i = Number(e.alert.patient.slice("Patient/mon-".length));
    if (deteriorating.delete(i)) sim.recover(i);
  });

  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  let signMs = 0;
  let readings = 0;
  let batches = 0;
  let refusedBatches = 0;
  let next = 0;
  let stopAt = 0;
  const pump = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const i = next++ % patients;
      const t0 = performance.now();
      const body = JSON.stringify(sim.nextBatch(i, Date.now(), SAMPLES_PER_BATCH, 100));
      signMs += performance.now() - t0;
      lastSubmit.set(`Patient/${ids[i]}`, performance.now());
      try {
        const r = await m.ingestor.ingest(JSON.parse(body));
        readings += r.accepted;
        batches++;
      } catch {
        refusedBatches++;
      }
    }
  };
  const window = async (ms: number) => {
    readings = 0;
    batches = 0;
    signMs = 0;
    const started = performance.now();
    stopAt = started + ms;
    const deteriorate = setInterval(() => {
      const i = Math.floor(Math.random() * patients);
      deteriorating.add(i);
      sim.deteriorate(i);
    }, 2000);
    await Promise.all(Array.from({ length: IN_FLIGHT }, pump));
    clearInterval(deteriorate);
    const elapsed = (performance.now() - started) / 1000;
    return {
      seconds: round(elapsed, 1),
      readings,
      batches,
      readingsPerSecond: Math.round(readings / elapsed),
      devicesSigningCpuShare: round(signMs / 1000 / elapsed, 3),
    };
  };

  // warm-up, then a short profiled window, then the measured one
  await window(quick ? 1000 : 3000);
  const stopProfile = await startCpuProfile(RULES);
  await window(quick ? 2000 : 5000);
  const profile = await stopProfile();
  latencies.length = 0;
  peakRss = process.memoryUsage().rss;
  const ingest = await window(seconds * 1000);
  const alertLatency = latencySummary(latencies);
  clearInterval(rssTimer);
  await node.services.audit.flush();

  // the same readings, one by one, through the plain FHIR create path
  const started = performance.now();
  const at = Date.now();
  for (let k = 0; k < fhirCreates; k++) {
    await node.services.records.create(doc, {
      resourceType: "Observation",
      status: "final",
      category: [
        {
          coding: [
            { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs" },
          ],
        },
      ],
      code: { coding: [{ system: "http://loinc.org", code: "8867-4" }] },
      subject: { reference: `Patient/${ids[k % patients]}` },
      effectiveDateTime: new Date(at - k * 1000).toISOString(),
      valueQuantity: {
        value: 60 + (k % 40),
        unit: "/min",
        system: "http://unitsofmeasure.org",
        code: "/min",
      },
    });
  }
  const fhirSeconds = (performance.now() - started) / 1000;
  await bench.stop();
  return {
    target: { readingsPerSecond: 100_000, alertLatencyP99Ms: 1000 },
    setup: {
      patients,
      devices: patients,
      readingsPerBatch: SAMPLES_PER_BATCH * 9,
      inFlight: IN_FLIGHT,
      database: "sqlite",
    },
    ingest: { ...ingest, refusedBatches, alerts: alertLatency.samples },
    alertLatencyMs: alertLatency,
    fhirCreateOneByOne: {
      readings: fhirCreates,
      seconds: round(fhirSeconds, 1),
      readingsPerSecond: Math.round(fhirCreates / fhirSeconds),
    },
    ratio: round(ingest.readingsPerSecond / (fhirCreates / fhirSeconds), 1),
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    profile,
    loadAtEnd: load(),
  };
}

if (isMain(import.meta.url)) await runAsScript(runMonitoringBench);
