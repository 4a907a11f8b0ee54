/**
 * Research studies on one node, in one run:
 * - cohort matching over 100k synthetic patients (10k with --quick): the node's in-memory cohort
 *   index (src/research/cohortIndex.ts) beside the naive way, which decrypts every patient's
 *   record (the node's envelope encryption, src/crypto/envelope.ts, one AES-GCM blob per resource
 *   with its wrapped data key, no data-key cache), parses it and evaluates the same criteria;
 *   p50 of each, plus the index's one-time build from already decrypted records;
 * - a DP mean of HbA1c over an enrolled cohort of 1,000 (exact discrete Laplace noise) from the
 *   index's profiles, beside the same mean computed naively by decrypting the cohort's records.
 * The criteria: type 2 diabetes (SNOMED, ~8 % of patients), aged 60 to 70, latest HbA1c ≥ 7 %.
 * Run: `npm run bench -- research`.
 */
import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { decryptRecord, encryptRecord } from "../src/crypto/envelope.js";
import type { FhirResource } from "../src/records/fhirTypes.js";
import { CohortIndex } from "../src/research/cohortIndex.js";
import { matches, profileOf, type PatientProfile } from "../src/research/cohortProfile.js";
import { dpMean } from "../src/research/dpAggregates.js";
import { seededRandom } from "../src/research/randomSource.js";
import { LOINC, RXNORM, SNOMED, type Criterion } from "../src/research/studyDefinition.js";
import { toUnit } from "../src/research/ucumUnits.js";
import {
  isMain,
  latencySummary,
  load,
  machine,
  round,
  runAsScript,
  type BenchOptions,
} from "./support/report.js";

const NOW = new Date("2026-12-07T00:00:00Z");
const DIABETES = "44054006";
const OTHER_CONDITIONS = Array.from({ length: 60 }, (_, i) => String(100000 + i * 7));
const CRITERIA: Criterion[] = [
  { kind: "condition", codes: [{ system: SNOMED, code: DIABETES }] },
  { kind: "age", min: 60, max: 70 },
  { kind: "observation", code: "4548-4", comparator: ">=", value: 7, unit: "%", which: "latest" },
];

/** A deterministic pseudo-random stream (xorshift) so every run builds the same population. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function patient(i: number, rnd: () => number): FhirResource[] {
  const id = `bench-${i}`;
  const ref = { reference: `Patient/${id}` };
  const year = 1930 + Math.floor(rnd() * 95);
  const out: FhirResource[] = [
    {
      resourceType: "Patient",
      id,
      gender: rnd() < 0.5 ? "female" : "male",
      birthDate: `${year}-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 9)}`,
      name: [{ family: `Family${i}`, given: [`Given${i}`] }],
    },
  ];
  const diabetic = rnd() < 0.08;
  const codes = [...(diabetic ? [DIABETES] : []), OTHER_CONDITIONS[Math.floor(rnd() * 60)]!];
  codes.forEach((code, j) =>
    out.push({
      resourceType: "Condition",
      id: `${id}-c${j}`,
      code: { coding: [{ system: SNOMED, code }] },
      subject: ref,
    }),
  );
  for (let j = 0; j < 2; j++)
    out.push({
      resourceType: "Observation",
      id: `${id}-o${j}`,
      status: "final",
      code: { coding: [{ system: LOINC, code: "4548-4" }] },
      subject: ref,
      effectiveDateTime: `2026-0${1 + j * 4}-01T00:00:00Z`,
      valueQuantity: { value: round(5 + rnd() * (diabetic ? 6 : 2), 1), unit: "%", code: "%" },
    });
  out.push({
    resourceType: "MedicationRequest",
    id: `${id}-m`,
    status: "active",
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: diabetic ? "860975" : "197361" }] },
    subject: ref,
  });
  return out;
}

/** The node's keyring surface envelope.ts needs, without its data-key cache (a cold scan). */
function benchKeyring() {
  const keys = new Map<string, KeyObject>();
  const keyFor = async (p: string) => {
    let k = keys.get(p);
    if (k === undefined) keys.set(p, (k = createSecretKey(randomBytes(32))));
    return k;
  };
  return {
    keyFor,
    dataKey: async (p: string, _wrapped: string, unwrap: (key: KeyObject) => Buffer) =>
      unwrap(await keyFor(p)),
  };
}

type Stored = { patient: string; blobs: { aad: string; blob: Uint8Array }[] };

async function decryptPatient(keyring: ReturnType<typeof benchKeyring>, s: Stored): Promise<FhirResource[]> {
  const out: FhirResource[] = [];
  for (const b of s.blobs)
    out.push(
      JSON.parse(
        Buffer.from(await decryptRecord(keyring, s.patient, b.blob, b.aad)).toString("utf8"),
      ) as FhirResource,
    );
  return out;
}

/** Runs the benchmark and returns its JSON report. */
export async function runResearchBench(options: BenchOptions): Promise<object> {
  const n = options.quick ? 10_000 : 100_000;
  const rnd = prng(2026);
  const keyring = benchKeyring();
  const stored: Stored[] = [];
  const index = new CohortIndex();
  let buildMs = 0;
  const genStarted = performance.now();
  for (let i = 0; i < n; i++) {
    const resources = patient(i, rnd);
    const blobs = [];
    for (const r of resources) {
      const aad = `${r.resourceType}/${String(r.id)}/_history/1`;
      blobs.push({
        aad,
        blob: (await encryptRecord(keyring, `p${i}`, Buffer.from(JSON.stringify(r)), aad)).ciphertext,
      });
    }
    stored.push({ patient: `p${i}`, blobs });
    const t = performance.now();
    index.set(`p${i}`, profileOf(resources));
    buildMs += performance.now() - t;
  }
  const setupSeconds = round((performance.now() - genStarted) / 1000, 1);

  const indexed: number[] = [];
  let matched = 0;
  for (let r = 0; r < (options.quick ? 10 : 30); r++) {
    const t = performance.now();
    matched = index.match(CRITERIA, NOW).length;
    indexed.push(performance.now() - t);
  }
  const naive: number[] = [];
  let naiveMatched = 0;
  // the scan takes minutes at 100k: two runs (three with --quick)
  for (let r = 0; r < (options.quick ? 3 : 2); r++) {
    const t = performance.now();
    naiveMatched = 0;
    for (const s of stored)
      if (matches(CRITERIA, profileOf(await decryptPatient(keyring, s)), NOW)) naiveMatched++;
    naive.push(performance.now() - t);
  }
  if (matched !== naiveMatched) throw new Error(`the index found ${matched}, the scan ${naiveMatched}`);

  // the enrolled cohort: the first 1,000 diabetics
  const profiles = new Map<string, PatientProfile>();
  for (let i = 0; i < n && profiles.size < 1000; i++) {
    const resources = await decryptPatient(keyring, stored[i]!);
    const p = profileOf(resources);
    if (p.codes.has(`condition|${SNOMED}|${DIABETES}`)) profiles.set(stored[i]!.patient, p);
  }
  const cohort = [...profiles.keys()];
  const rng = seededRandom("research-bench");
  const latestA1c = (p: PatientProfile) => {
    const v = p.observations.get("4548-4")?.[0];
    return v === undefined ? undefined : toUnit(v.value, v.unit, "%");
  };
  const dp: number[] = [];
  let dpValue: number | null = null;
  for (let r = 0; r < 30; r++) {
    const t = performance.now();
    const values = cohort
      .map((k) => latestA1c(profiles.get(k)!))
      .filter((v) => v !== undefined)
      .map((v) => Math.round(v * 10));
    dpValue = dpMean(rng, values, 40, 140, 0.5).value;
    dp.push(performance.now() - t);
  }
  const naiveAgg: number[] = [];
  let exact = 0;
  const byKey = new Map(stored.map((s) => [s.patient, s]));
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    let sum = 0;
    let count = 0;
    for (const k of cohort) {
      const v = latestA1c(profileOf(await decryptPatient(keyring, byKey.get(k)!)));
      if (v !== undefined) {
        sum += v;
        count++;
      }
    }
    exact = sum / count;
    naiveAgg.push(performance.now() - t);
  }
  const m = latencySummary(indexed);
  const s = latencySummary(naive);
  return {
    machine: machine(),
    patients: n,
    resourcesPerPatient: round(stored.reduce((a, x) => a + x.blobs.length, 0) / n, 2),
    setupSeconds,
    matching: {
      criteria: "type 2 diabetes AND age 60..70 AND latest HbA1c >= 7 %",
      matched,
      indexMs: m,
      naiveDecryptAndScanMs: s,
      speedupP50: round(s.p50 / m.p50, 0),
      indexBuildFromDecryptedMs: round(buildMs, 0),
    },
    dpAggregate: {
      query: "mean latest HbA1c (0.1 % units, clamped 4.0..14.0 %), epsilon 0.5",
      cohort: cohort.length,
      dpFromIndexMs: latencySummary(dp),
      naiveDecryptExactMs: latencySummary(naiveAgg),
      dpMean: dpValue === null ? null : round(dpValue / 10, 2),
      exactMean: round(exact, 2),
    },
    note: "naive: every resource decrypted (AES-256-GCM envelope, no data-key cache), parsed and scanned in the same process",
    loadAverage1m: load(),
  };
}

if (isMain(import.meta.url)) await runAsScript(runResearchBench);
