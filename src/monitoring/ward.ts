/**
 * Vitals as the web pages chart them: per patient, each vital's readings over a window (columns
 * of times and values, thinned to a bounded number of points), the NEWS2 scores over the same
 * window and the latest of each. One patient's (`GET /monitoring/patients/:id/vitals`, the patient
 * or their consented care team) or every monitored patient a clinician may see, sorted by their
 * latest score, highest first (`GET /monitoring/ward`, the live ward board). Reads are under the
 * same consent decision as the FHIR Observation search and audited as one search per patient.
 */
import type { Address } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { ConsentGate } from "../consent/consentGate.js";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { ChunkStore } from "./chunkStore.js";
import type { PatientAccounts } from "./devices.js";
import type { MonitoringDb } from "./monitoringTables.js";
import type { Acvpu, News2Risk } from "./news2.js";
import { READING_CATEGORIES, VITALS, type QuantityKind } from "./vitals.js";

/** One vital over the window: times (ms) and values in its stored UCUM unit. */
export interface Series {
  unit: string;
  t: number[];
  v: number[];
}

export interface PatientVitalsView {
  patient: string;
  from: string;
  to: string;
  vitals: Partial<Record<QuantityKind, Series>>;
  news2: { t: number[]; v: number[] };
  latest: {
    news2: { total: number; risk: News2Risk; at: string } | null;
    acvpu: { value: Acvpu; at: string } | null;
    /** When the newest reading of any vital was taken. */
    readingAt: string | null;
  };
}

export interface WardPatient extends PatientVitalsView {
  /** Unacknowledged alerts of this patient the caller may see. */
  openAlerts: number;
}

export interface WardDeps {
  db: MonitoringDb;
  chunks: Pick<ChunkStore, "read">;
  gate: Pick<ConsentGate, "forPatient">;
  patients: PatientAccounts;
  auditor: Pick<Auditor, "record">;
  now?: () => number;
}

/** Points per series the pages get at most: more than a chart's width in pixels does not show. */
const MAX_POINTS = 600;
/** Chunks read per patient at most (about an hour and a half of a kit sending every 2 s). */
const MAX_CHUNKS = 3000;
/** Monitored patients on one board at most. */
const MAX_WARD = 200;

export class WardView {
  readonly #d: WardDeps;
  readonly #now: () => number;

  constructor(deps: WardDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  #permits(principal: Principal, account: Address): boolean {
    return this.#d.gate.forPatient(principal, account, "read").decide(READING_CATEGORIES, undefined).permit;
  }

  /**
   * One patient's vitals over the last `minutes`.
   * @throws BaseError("not-found") for an unknown patient and for one the caller may not see (the
   *   refusal is audited)
   */
  async patient(principal: Principal, patientId: string, minutes: number): Promise<PatientVitalsView> {
    const account = await this.#d.patients.accountOf(patientId);
    if (account === undefined || !this.#permits(principal, account)) {
      if (account !== undefined)
        await this.#d.auditor.record(principal, {
          action: "search",
          decision: "deny",
          patient: account,
          categories: READING_CATEGORIES,
          reason: "monitoring vitals withheld",
        });
      throw new BaseError("not-found", "no Patient with this id");
    }
    return this.#read(principal, patientId, account, minutes);
  }

  /**
   * The ward board: every patient with a device at this node whose consent lets the caller see
   * their vitals, highest latest NEWS2 first (patients without a score last). Patients the caller
   * may not see are left out without a trace, as in every list.
   */
  async ward(
    principal: Principal,
    minutes: number,
    openAlerts: (patientId: string) => number,
  ): Promise<WardPatient[]> {
    const rows = await this.#d.db
      .selectFrom("monitoring_devices")
      .select(["patient_id", "patient_account"])
      .distinct()
      .orderBy("patient_id")
      .limit(10 * MAX_WARD)
      .execute();
    const seen = new Set<string>();
    const out: WardPatient[] = [];
    for (const row of rows) {
      if (seen.has(row.patient_id) || out.length >= MAX_WARD) continue;
      seen.add(row.patient_id);
      const account = row.patient_account as Address;
      if (!this.#permits(principal, account)) continue;
      const view = await this.#read(principal, row.patient_id, account, minutes);
      out.push({ ...view, openAlerts: openAlerts(row.patient_id) });
    }
    const score = (p: WardPatient) => p.latest.news2?.total ?? -1;
    return out.sort((a, b) => score(b) - score(a) || b.openAlerts - a.openAlerts);
  }

  async #read(
    principal: Principal,
    patientId: string,
    account: Address,
    minutes: number,
  ): Promise<PatientVitalsView> {
    const to = this.#now();
    const from = to - minutes * 60_000;
    const chunks = await this.#d.chunks.read(patientId, from, Number.POSITIVE_INFINITY, MAX_CHUNKS);
    const points = new Map<QuantityKind, Map<number, number>>();
    const scores = new Map<number, { total: number; risk: News2Risk }>();
    let acvpu: { value: Acvpu; at: number } | null = null;
    let newest = 0;
    for (const chunk of chunks) {
      for (const [kind, value, at] of chunk.readings) {
        if (at < from) continue;
        newest = Math.max(newest, at);
        if (kind === "acvpu") {
          if (acvpu === null || at > acvpu.at) acvpu = { value: value as Acvpu, at };
          continue;
        }
        let m = points.get(kind);
        if (m === undefined) points.set(kind, (m = new Map()));
        m.set(at, value as number);
      }
      if (chunk.score && chunk.score.at >= from)
        scores.set(chunk.score.at, { total: chunk.score.total, risk: chunk.score.risk });
    }
    const vitals: Partial<Record<QuantityKind, Series>> = {};
    for (const [kind, m] of points) vitals[kind] = { unit: VITALS[kind].unit, ...thin(m, from, to) };
    const news2 = thin(new Map([...scores].map(([t, s]) => [t, s.total])), from, to);
    const lastAt = Math.max(-1, ...scores.keys());
    const last = scores.get(lastAt);
    await this.#d.auditor.record(principal, {
      action: "search",
      decision: "permit",
      patient: account,
      categories: READING_CATEGORIES,
      reason: "monitoring vitals read",
    });
    return {
      patient: `Patient/${patientId}`,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      vitals,
      news2,
      latest: {
        news2: last ? { ...last, at: new Date(lastAt).toISOString() } : null,
        acvpu: acvpu ? { value: acvpu.value, at: new Date(acvpu.at).toISOString() } : null,
        readingAt: newest > 0 ? new Date(newest).toISOString() : null,
      },
    };
  }
}

/**
 * A series in time order, at most {@link MAX_POINTS}: past that, the window is cut into equal
 * buckets and each keeps its highest and lowest value (so a spike still shows).
 */
function thin(m: Map<number, number>, from: number, to: number): { t: number[]; v: number[] } {
  const sorted = [...m].sort((a, b) => a[0] - b[0]);
  if (sorted.length <= MAX_POINTS) return { t: sorted.map((p) => p[0]), v: sorted.map((p) => p[1]) };
  const buckets = MAX_POINTS / 2;
  const width = (to - from) / buckets;
  const kept = new Map<number, [number, number][]>();
  for (const p of sorted) {
    const b = Math.min(buckets - 1, Math.max(0, Math.floor((p[0] - from) / width)));
    const list = kept.get(b);
    if (list === undefined) kept.set(b, [p, p]);
    else {
      if (p[1] < list[0]![1]) list[0] = p;
      if (p[1] >= list[1]![1]) list[1] = p;
    }
  }
  const out = [...kept.values()]
    .flatMap(([lo, hi]) => (lo === hi ? [lo!] : [lo!, hi!]))
    .sort((a, b) => a[0] - b[0]);
  return { t: out.map((p) => p[0]), v: out.map((p) => p[1]) };
}
