/**
 * One monitored patient's live state: the latest value of each vital (by device time, so late and
 * reordered readings never replace a newer one), a short history of the vitals a trend rule
 * watches, and what has already been alerted, so a condition that persists alerts once and a
 * worsening one alerts again. Scoring takes the latest set: NEWS2 when every parameter was
 * measured within the freshness window (a patient with no oxygen reading breathes room air), and
 * each parameter's own band whatever the others, for the "single parameter scores 3" trigger.
 */
import { z } from "zod";
import { address } from "../model/schemas.js";
import { PRACTITIONER_ROLES } from "../model/vocabulary.js";
import {
  news2,
  scoreConsciousness,
  scoreOxygen,
  scorePulse,
  scoreRespiratoryRate,
  scoreSpo2,
  scoreSystolic,
  scoreTemperature,
  type Acvpu,
  type News2Parameter,
  type News2Score,
} from "./news2.js";
import type { StoredReading } from "./batch.js";
import type { QuantityKind, VitalKind } from "./vitals.js";

const quantityKinds = [
  "heart-rate",
  "spo2",
  "systolic",
  "diastolic",
  "temperature",
  "respiratory-rate",
  "glucose",
  "oxygen-flow",
] as const satisfies readonly QuantityKind[];

/** A per-patient rule the care team sets: a bound on a vital, or a rise over a window. */
export const thresholdRule = z
  .strictObject({
    kind: z.enum(quantityKinds),
    /** Alert when the latest value is above this (in the vital's stored unit). */
    above: z.number().finite().optional(),
    /** Alert when the latest value is below this. */
    below: z.number().finite().optional(),
    /** Alert when the least-squares slope over the window rises faster than this, per hour. */
    risePerHour: z.number().positive().finite().optional(),
    windowMinutes: z.number().int().min(1).max(1440).default(60),
  })
  .refine((t) => t.above !== undefined || t.below !== undefined || t.risePerHour !== undefined, {
    message: "a threshold needs above, below or risePerHour",
  });
export type ThresholdRule = z.infer<typeof thresholdRule>;

/** One step of escalation: a role of the care team, or one practitioner. */
export const escalationStep = z.union([
  z.strictObject({ role: z.enum(PRACTITIONER_ROLES) }),
  z.strictObject({ account: address }),
]);
export type EscalationStep = z.infer<typeof escalationStep>;

/** The care team's settings for one patient. */
export const monitoringSettings = z.strictObject({
  /** SpO2 scale 2 (hypercapnic respiratory failure, target 88-92 %). */
  hypercapnic: z.boolean().default(false),
  thresholds: z.array(thresholdRule).max(50).default([]),
  /** Who an alert goes to first, and to whom it escalates while unacknowledged. */
  escalation: z
    .array(escalationStep)
    .min(1)
    .max(10)
    .default([{ role: "nurse" }, { role: "physician" }]),
  escalateAfterSeconds: z.number().int().min(1).max(86_400).default(300),
  /** How recent every parameter must be for a NEWS2 aggregate (minutes). */
  freshMinutes: z.number().int().min(1).max(1440).default(60),
});
export type MonitoringSettings = z.infer<typeof monitoringSettings>;
export const DEFAULT_SETTINGS: MonitoringSettings = monitoringSettings.parse({});

/** What made an alert. */
export type AlertTrigger =
  | { rule: "news2-high" | "news2-medium"; total: number }
  | { rule: "news2-single-3"; parameter: News2Parameter }
  | { rule: "threshold"; index: number; kind: QuantityKind; breach: "above" | "below" | "rise" };

/** A reading the state holds: value, device time, and the device that sent it. */
export interface HeldReading {
  value: number | Acvpu;
  at: number;
  device: string;
}

export interface Evaluation {
  /** The NEWS2 aggregate over the latest complete set, with the readings it used. */
  score?: News2Score & { inputs: Partial<Record<VitalKind, HeldReading>>; at: number };
  /** Triggers that are new since the last evaluation (to alert on). */
  raised: AlertTrigger[];
}

const HISTORY_POINTS = 512;

const NEWS2_KINDS: Record<Exclude<News2Parameter, "onOxygen">, VitalKind> = {
  respiratoryRate: "respiratory-rate",
  spo2: "spo2",
  systolic: "systolic",
  pulse: "heart-rate",
  consciousness: "acvpu",
  temperature: "temperature",
};

export class PatientVitals {
  readonly latest = new Map<VitalKind, HeldReading>();
  readonly #history = new Map<QuantityKind, number[]>();
  /** The NEWS2 alert level already raised: 0 none, 1 single 3, 2 medium, 3 high. */
  #level = 0;
  readonly #breached = new Set<number>();
  #lastScoredAt = -1;

  /** Takes a batch's readings in; returns whether any became the latest of its vital. */
  take(device: string, readings: readonly StoredReading[], settings: MonitoringSettings): boolean {
    let changed = false;
    const watched = settings.thresholds.some((t) => t.risePerHour !== undefined);
    for (const [kind, value, at] of readings) {
      const held = this.latest.get(kind);
      if (held === undefined || at > held.at) {
        this.latest.set(kind, { value, at, device });
        changed = true;
      }
      if (watched && kind !== "acvpu" && typeof value === "number") this.#remember(kind, at, value);
    }
    return changed;
  }

  #remember(kind: QuantityKind, at: number, value: number): void {
    let h = this.#history.get(kind);
    if (h === undefined) this.#history.set(kind, (h = []));
    // [at, value] pairs, kept in time order; a late reading is inserted where it belongs
    let i = h.length;
    while (i >= 2 && h[i - 2]! > at) i -= 2;
    if (i >= 2 && h[i - 2] === at) return;
    h.splice(i, 0, at, value);
    if (h.length > HISTORY_POINTS * 2) h.splice(0, h.length - HISTORY_POINTS * 2);
  }

  /** The least-squares slope of a vital over the window ending at its latest reading, per hour. */
  slopePerHour(kind: QuantityKind, windowMinutes: number): number | undefined {
    const h = this.#history.get(kind);
    if (h === undefined || h.length < 6) return undefined;
    const end = h[h.length - 2]!;
    const from = end - windowMinutes * 60_000;
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    for (let i = h.length - 2; i >= 0 && h[i]! >= from; i -= 2) {
      const x = (h[i]! - end) / 3_600_000;
      const y = h[i + 1]!;
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const den = n * sxx - sx * sx;
    if (n < 3 || den === 0) return undefined;
    return (n * sxy - sx * sy) / den;
  }

  /**
   * Scores the latest set and says which alert triggers are new.
   * @param settings - the care team's settings for the patient
   */
  evaluate(settings: MonitoringSettings): Evaluation {
    const scale = settings.hypercapnic ? 2 : 1;
    const newest = Math.max(...[...this.latest.values()].map((r) => r.at));
    const freshFrom = newest - settings.freshMinutes * 60_000;
    const fresh = (kind: VitalKind): HeldReading | undefined => {
      const r = this.latest.get(kind);
      return r !== undefined && r.at >= freshFrom ? r : undefined;
    };
    const oxygen = fresh("oxygen-flow");
    const onOxygen = oxygen !== undefined && (oxygen.value as number) > 0;
    const parts: Partial<Record<News2Parameter, number>> = {};
    const inputs: Partial<Record<VitalKind, HeldReading>> = {};
    for (const [param, kind] of Object.entries(NEWS2_KINDS) as [
      Exclude<News2Parameter, "onOxygen">,
      VitalKind,
    ][]) {
      const r = fresh(kind);
      if (r === undefined) continue;
      inputs[kind] = r;
      parts[param] = scoreOne(param, r.value, onOxygen, scale);
    }
    if (oxygen !== undefined) inputs["oxygen-flow"] = oxygen;
    parts.onOxygen = scoreOxygen(onOxygen);

    const raised: AlertTrigger[] = [];
    const complete = Object.keys(NEWS2_KINDS).every((p) => parts[p as News2Parameter] !== undefined);
    let score: Evaluation["score"];
    let total: number | undefined;
    if (complete) {
      const s = news2(
        {
          respiratoryRate: inputs["respiratory-rate"]!.value as number,
          spo2: inputs.spo2!.value as number,
          onOxygen,
          systolic: inputs.systolic!.value as number,
          pulse: inputs["heart-rate"]!.value as number,
          consciousness: inputs.acvpu!.value as Acvpu,
          temperature: inputs.temperature!.value as number,
        },
        scale,
      );
      total = s.total;
      // a score is recorded once per newest reading: a batch of only older readings adds none
      if (newest !== this.#lastScoredAt) score = { ...s, inputs, at: newest };
      this.#lastScoredAt = newest;
    }
    const three = (Object.entries(parts) as [News2Parameter, number][]).find(([, v]) => v === 3);
    const level =
      total !== undefined && total >= 7 ? 3 : total !== undefined && total >= 5 ? 2 : three ? 1 : 0;
    if (level > this.#level) {
      if (level === 3) raised.push({ rule: "news2-high", total: total! });
      else if (level === 2) raised.push({ rule: "news2-medium", total: total! });
      else raised.push({ rule: "news2-single-3", parameter: three![0] });
    }
    this.#level = level;

    settings.thresholds.forEach((t, index) => {
      const breach = this.#breach(t);
      if (breach === undefined) this.#breached.delete(index);
      else if (!this.#breached.has(index)) {
        this.#breached.add(index);
        raised.push({ rule: "threshold", index, kind: t.kind, breach });
      }
    });
    return score === undefined ? { raised } : { score, raised };
  }

  #breach(t: ThresholdRule): "above" | "below" | "rise" | undefined {
    const r = this.latest.get(t.kind);
    if (r === undefined || typeof r.value !== "number") return undefined;
    if (t.above !== undefined && r.value > t.above) return "above";
    if (t.below !== undefined && r.value < t.below) return "below";
    if (t.risePerHour !== undefined) {
      const slope = this.slopePerHour(t.kind, t.windowMinutes);
      if (slope !== undefined && slope > t.risePerHour) return "rise";
    }
    return undefined;
  }
}

function scoreOne(
  param: Exclude<News2Parameter, "onOxygen">,
  value: number | Acvpu,
  onOxygen: boolean,
  scale: 1 | 2,
): number {
  switch (param) {
    case "respiratoryRate":
      return scoreRespiratoryRate(value as number);
    case "spo2":
      return scoreSpo2(value as number, onOxygen, scale);
    case "systolic":
      return scoreSystolic(value as number);
    case "pulse":
      return scorePulse(value as number);
    case "consciousness":
      return scoreConsciousness(value as Acvpu);
    case "temperature":
      return scoreTemperature(value as number);
  }
}
