/**
 * Device readings and NEWS2 scores read back as FHIR R4 `Observation`s of the vital-signs profile
 * (https://hl7.org/fhir/R4/observation-vitalsigns.html): each reading is one Observation whose id
 * is derived from (device, vital, device time), so a reading stored twice reads once; each score
 * is one Observation whose `derivedFrom` names the readings it used. Search by patient, code and
 * date, under the patient's consent (categories vitals and device-readings), audited like every
 * search.
 */
import type { Address } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { ConsentGate } from "../consent/consentGate.js";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import { dateRange } from "../records/dateRange.js";
import type { ChunkStore, Chunk, StoredScore } from "./chunkStore.js";
import type { PatientAccounts } from "./devices.js";
import { readingObservationId, scoreObservationId } from "./ingest.js";
import type { Acvpu } from "./news2.js";
import {
  ACVPU_DISPLAY,
  ACVPU_LOINC,
  ACVPU_NAMES,
  ACVPU_SYSTEM,
  KIND_BY_LOINC,
  NEWS2_CODE,
  NEWS2_DISPLAY,
  NEWS2_SYSTEM,
  READING_CATEGORIES,
  VITALS,
  type VitalKind,
} from "./vitals.js";

const LOINC = "http://loinc.org";
const CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category";
const UCUM = "http://unitsofmeasure.org";

type Query = Record<string, string | string[] | undefined>;
type Observation = Record<string, unknown> & { id: string; effectiveDateTime: string };

/** A reading as a FHIR Observation. */
export function readingObservation(
  patientId: string,
  device: string,
  kind: VitalKind,
  value: number | Acvpu,
  at: number,
): Observation {
  const base = {
    resourceType: "Observation",
    id: readingObservationId(device, kind, at),
    status: "final",
    subject: { reference: `Patient/${patientId}` },
    device: { reference: `Device/${device}` },
    effectiveDateTime: new Date(at).toISOString(),
  };
  if (kind === "acvpu") {
    const level = value as Acvpu;
    return {
      ...base,
      category: [{ coding: [{ system: CATEGORY_SYSTEM, code: "survey" }] }],
      code: { coding: [{ system: LOINC, code: ACVPU_LOINC, display: ACVPU_DISPLAY }], text: "ACVPU" },
      valueCodeableConcept: {
        coding: [{ system: ACVPU_SYSTEM, code: level, display: ACVPU_NAMES[level] }],
        text: ACVPU_NAMES[level],
      },
    };
  }
  const def = VITALS[kind];
  return {
    ...base,
    category: [{ coding: [{ system: CATEGORY_SYSTEM, code: def.observationCategory }] }],
    code: { coding: [{ system: LOINC, code: def.loinc, display: def.display }], text: def.display },
    valueQuantity: { value: round(value as number), unit: def.unit, system: UCUM, code: def.unit },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** A NEWS2 score as a FHIR Observation referencing the readings it was computed from. */
export function scoreObservation(patientId: string, chunk: Chunk, score: StoredScore): Observation {
  return {
    resourceType: "Observation",
    id: scoreObservationId(chunk.device, chunk.batchId),
    status: "final",
    category: [{ coding: [{ system: CATEGORY_SYSTEM, code: "survey" }] }],
    code: { coding: [{ system: NEWS2_SYSTEM, code: NEWS2_CODE, display: NEWS2_DISPLAY }], text: "NEWS2" },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: new Date(score.at).toISOString(),
    valueInteger: score.total,
    interpretation: [{ text: `${score.risk} clinical risk` }],
    method: { text: `SpO2 scale ${score.scale}` },
    derivedFrom: Object.entries(score.inputs).map(([kind, [device, at]]) => ({
      reference: `Observation/${readingObservationId(device, kind as VitalKind, at)}`,
    })),
    component: Object.entries(score.parts).map(([param, points]) => ({
      code: { text: param },
      valueInteger: points,
    })),
  };
}

interface SearchFilter {
  patientId: string;
  kinds: Set<VitalKind> | undefined;
  scores: boolean;
  from: number;
  to: number;
  count: number;
}

/** Parses the search parameters this view answers; undefined when the query cannot match a reading. */
function filterOf(q: Query): SearchFilter | undefined {
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const subject = one(q.patient) ?? one(q.subject);
  if (subject === undefined) return undefined;
  const patientId = subject.replace(/^Patient\//, "");
  if (!/^[A-Za-z0-9.-]{1,64}$/.test(patientId)) return undefined;
  let kinds: Set<VitalKind> | undefined;
  let scores = true;
  const code = one(q.code);
  if (code !== undefined) {
    kinds = new Set();
    scores = false;
    for (const token of code.split(",")) {
      const [system, value] = token.includes("|") ? token.split("|", 2) : [undefined, token];
      if ((system === undefined || system === LOINC) && KIND_BY_LOINC.has(value ?? ""))
        kinds.add(KIND_BY_LOINC.get(value ?? "")!);
      if ((system === undefined || system === NEWS2_SYSTEM) && value === NEWS2_CODE) scores = true;
    }
    if (kinds.size === 0 && !scores) return undefined;
  }
  const category = one(q.category);
  if (category !== undefined && !/^(.*\|)?(vital-signs|laboratory|survey)$/.test(category)) return undefined;
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  const dates = q.date === undefined ? [] : Array.isArray(q.date) ? q.date : [q.date];
  for (const d of dates) {
    const m = /^(eq|ge|gt|le|lt)?(.+)$/.exec(d);
    const range = m ? dateRange(m[2]!) : undefined;
    if (m === null || range === undefined)
      throw new BaseError(
        "invalid",
        "date must be a FHIR date with an optional eq, ge, gt, le or lt prefix",
        { expression: "date" },
      );
    switch (m[1] ?? "eq") {
      case "eq":
        from = Math.max(from, range.start);
        to = Math.min(to, range.end - 1);
        break;
      case "ge":
        from = Math.max(from, range.start);
        break;
      case "gt":
        from = Math.max(from, range.end);
        break;
      case "le":
        to = Math.min(to, range.end - 1);
        break;
      case "lt":
        to = Math.min(to, range.start - 1);
        break;
    }
  }
  const count = Math.min(1000, Math.max(0, Number(one(q._count) ?? 100) || 0));
  return { patientId, kinds, scores, from, to, count };
}

export interface ObservationViewDeps {
  chunks: Pick<ChunkStore, "read" | "any">;
  gate: Pick<ConsentGate, "forPatient">;
  patients: PatientAccounts;
  auditor: Pick<Auditor, "record">;
}

/**
 * Searches a patient's monitoring Observations.
 * @returns the matching Observations, newest first, at most `_count`, and how many matched; none
 *   when the caller may not see the patient's vitals (the denial is audited)
 */
export async function searchMonitoringObservations(
  deps: ObservationViewDeps,
  principal: Principal,
  q: Query,
): Promise<{ total: number; observations: Observation[] }> {
  const filter = filterOf(q);
  if (filter === undefined) return { total: 0, observations: [] };
  const account = await deps.patients.accountOf(filter.patientId);
  if (account === undefined) return { total: 0, observations: [] };
  const permitted = deps.gate
    .forPatient(principal, account, "read")
    .decide(READING_CATEGORIES, undefined).permit;
  if (!permitted) {
    // a refusal is audited (and told to the patient) only when there was something to withhold:
    // an ordinary Observation search of a patient without device readings refuses nothing
    if (!(await deps.chunks.any(filter.patientId, filter.from, filter.to)))
      return { total: 0, observations: [] };
    await deps.auditor.record(principal, {
      action: "search",
      decision: "deny",
      patient: account,
      categories: READING_CATEGORIES,
      reason: "monitoring observations withheld",
    });
    return { total: 0, observations: [] };
  }
  const chunks = await deps.chunks.read(filter.patientId, filter.from, filter.to);
  const seen = new Set<string>();
  const found: Observation[] = [];
  for (const chunk of chunks) {
    for (const [kind, value, at] of chunk.readings) {
      if (at < filter.from || at > filter.to) continue;
      if (filter.kinds !== undefined && !filter.kinds.has(kind)) continue;
      const key = `${chunk.device}\0${kind}\0${at}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push(readingObservation(filter.patientId, chunk.device, kind, value, at));
    }
    if (filter.scores && chunk.score && chunk.score.at >= filter.from && chunk.score.at <= filter.to) {
      found.push(scoreObservation(filter.patientId, chunk, chunk.score));
    }
  }
  found.sort((a, b) =>
    a.effectiveDateTime < b.effectiveDateTime ? 1 : a.effectiveDateTime > b.effectiveDateTime ? -1 : 0,
  );
  const page = found.slice(0, filter.count);
  await deps.auditor.record(principal, {
    action: "search",
    decision: "permit",
    patient: account as Address,
    resources: page.slice(0, 100).map((o) => `Observation/${o.id}`),
    categories: READING_CATEGORIES,
  });
  return { total: found.length, observations: page };
}

/**
 * Appends monitoring Observations to a searchset Bundle of the records layer (the FHIR API's
 * `GET /fhir/Observation`), adding them to its total.
 */
export function withMonitoringEntries(
  bundle: Record<string, unknown>,
  found: { total: number; observations: Observation[] },
  baseUrl: string,
): Record<string, unknown> {
  if (found.total === 0) return bundle;
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  return {
    ...bundle,
    total: (typeof bundle.total === "number" ? bundle.total : entries.length) + found.total,
    entry: [
      ...entries,
      ...found.observations.map((o) => ({
        fullUrl: `${baseUrl}/Observation/${o.id}`,
        resource: o,
        search: { mode: "match" },
      })),
    ],
  };
}
