/**
 * What study criteria look at in one patient's record, read from its FHIR resources: birth date,
 * sex, condition and medication codes, and every numeric observation value (components too) with
 * its unit and time. `matches` evaluates criteria over one profile; it is the reference semantics
 * the cohort index (cohortIndex.ts) must agree with.
 */
import type { FhirResource } from "../records/fhirTypes.js";
import { RXNORM, type Criterion } from "./studyDefinition.js";
import { toUnit } from "./ucumUnits.js";

export interface ObservedValue {
  value: number;
  unit: string;
  /** Effective time (ms since the epoch; 0 when the resource gave none). */
  time: number;
}

export interface PatientProfile {
  /** Birth date as days since 1970-01-01 (UTC), if known. */
  birthDay?: number;
  sex?: string;
  /** `condition|<system>|<code>` and `medication|<rxnorm code>`. */
  codes: Set<string>;
  /** LOINC code -> values, newest first. */
  observations: Map<string, ObservedValue[]>;
}

type Json = Record<string, unknown>;
const DAY_MS = 86_400_000;

const codingsOf = (cc: unknown): Json[] =>
  typeof cc === "object" && cc !== null && Array.isArray((cc as Json).coding)
    ? ((cc as Json).coding as unknown[]).filter((c): c is Json => typeof c === "object" && c !== null)
    : [];

const timeOf = (r: FhirResource): number => {
  const v = r.effectiveDateTime ?? r.issued ?? (r.effectivePeriod as Json | undefined)?.start;
  const t = typeof v === "string" ? Date.parse(v) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
};

/** Days since the epoch of a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD; coarse dates at their start). */
export function dayOf(date: unknown): number | undefined {
  if (typeof date !== "string" || !/^\d{4}(-\d{2}(-\d{2})?)?$/.test(date)) return undefined;
  const full = date.length === 4 ? `${date}-01-01` : date.length === 7 ? `${date}-01` : date;
  const t = Date.parse(`${full}T00:00:00Z`);
  return Number.isNaN(t) ? undefined : Math.floor(t / DAY_MS);
}

/** Whole years between a birth day and `now` (both UTC). */
export function ageOn(birthDay: number, now: Date): number {
  const b = new Date(birthDay * DAY_MS);
  const years = now.getUTCFullYear() - b.getUTCFullYear();
  const before =
    now.getUTCMonth() < b.getUTCMonth() ||
    (now.getUTCMonth() === b.getUTCMonth() && now.getUTCDate() < b.getUTCDate());
  return before ? years - 1 : years;
}

function addValue(p: PatientProfile, loinc: string, q: unknown, time: number): void {
  if (typeof q !== "object" || q === null) return;
  const { value, code, unit } = q as Json;
  if (typeof value !== "number" || !Number.isFinite(value)) return;
  const u = typeof code === "string" ? code : typeof unit === "string" ? unit : "1";
  const list = p.observations.get(loinc) ?? [];
  list.push({ value, unit: u, time });
  p.observations.set(loinc, list);
}

/**
 * The profile of one patient's resources (entered-in-error resources are skipped).
 * @param resources - The patient's current resources at this node.
 */
export function profileOf(resources: readonly FhirResource[]): PatientProfile {
  const p: PatientProfile = { codes: new Set(), observations: new Map() };
  for (const r of resources) {
    if (r.status === "entered-in-error") continue;
    switch (r.resourceType) {
      case "Patient": {
        const day = dayOf(r.birthDate);
        if (day !== undefined) p.birthDay = day;
        if (typeof r.gender === "string") p.sex = r.gender;
        break;
      }
      case "Condition":
        if (
          codingsOf(r.verificationStatus).some((c) => c.code === "refuted" || c.code === "entered-in-error")
        )
          break;
        for (const c of codingsOf(r.code))
          if (typeof c.system === "string" && typeof c.code === "string")
            p.codes.add(`condition|${c.system}|${c.code}`);
        break;
      case "MedicationRequest":
      case "MedicationStatement":
        for (const c of codingsOf(r.medicationCodeableConcept))
          if (c.system === RXNORM && typeof c.code === "string") p.codes.add(`medication|${c.code}`);
        break;
      case "Observation": {
        const time = timeOf(r);
        for (const c of codingsOf(r.code))
          if (c.system === "http://loinc.org" && typeof c.code === "string")
            addValue(p, c.code, r.valueQuantity, time);
        for (const comp of Array.isArray(r.component) ? (r.component as Json[]) : [])
          for (const c of codingsOf(comp.code))
            if (c.system === "http://loinc.org" && typeof c.code === "string")
              addValue(p, c.code, comp.valueQuantity, time);
        break;
      }
      default:
        break;
    }
  }
  for (const list of p.observations.values()) list.sort((a, b) => b.time - a.time);
  return p;
}

/** Whether `v` (in `unit`) passes the threshold. */
export function passes(c: Extract<Criterion, { kind: "observation" }>, v: ObservedValue): boolean {
  const x = toUnit(v.value, v.unit, c.unit);
  if (x === undefined) return false;
  switch (c.comparator) {
    case "<":
      return x < c.value;
    case "<=":
      return x <= c.value;
    case ">":
      return x > c.value;
    case ">=":
      return x >= c.value;
  }
}

/** Whether one criterion holds for the profile on `now`. */
export function holds(c: Criterion, p: PatientProfile, now: Date): boolean {
  switch (c.kind) {
    case "condition":
      return c.codes.some((k) => p.codes.has(`condition|${k.system}|${k.code}`));
    case "medication":
      return c.rxnorm.some((k) => p.codes.has(`medication|${k}`));
    case "sex":
      return p.sex !== undefined && (c.values as string[]).includes(p.sex);
    case "age": {
      if (p.birthDay === undefined) return false;
      const age = ageOn(p.birthDay, now);
      return (c.min === undefined || age >= c.min) && (c.max === undefined || age <= c.max);
    }
    case "observation": {
      const values = p.observations.get(c.code) ?? [];
      return c.which === "latest"
        ? values[0] !== undefined && passes(c, values[0])
        : values.some((v) => passes(c, v));
    }
  }
}

/** Whether every criterion holds for the profile on `now`. */
export function matches(criteria: readonly Criterion[], p: PatientProfile, now: Date): boolean {
  return criteria.every((c) => holds(c, p, now));
}
