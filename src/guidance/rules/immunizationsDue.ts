/**
 * Immunizations due or overdue for an adult, after data/adultImmunizations.ts: a seasonal vaccine
 * is due when no dose is recorded since the season began (August 1); a booster when the newest
 * dose is older than its interval (overdue) or none is recorded (due); a series while fewer doses
 * than it needs are recorded at the counting age (the next dose no sooner than its spacing).
 */
import { ageOn, type ClinicalFacts, type ImmunizationFact } from "../clinicalFacts.js";
import { ADULT_IMMUNIZATIONS, type AdultImmunization } from "../data/adultImmunizations.js";
import { referencesOf, sourcesOf, type Guidance } from "../guidanceCard.js";
import { plusYears } from "./preventiveCare.js";

const WEEK_MS = 7 * 24 * 3600 * 1000;

/** First day of the respiratory-virus season `now` falls in (August 1). */
export function seasonStart(now: Date): Date {
  const year = now.getUTCMonth() >= 7 ? now.getUTCFullYear() : now.getUTCFullYear() - 1;
  return new Date(Date.UTC(year, 7, 1));
}

interface Status {
  due: boolean;
  overdue: boolean;
  /** What the clinician reads after the title. */
  why: string;
  doses: ImmunizationFact[];
}

function status(v: AdultImmunization, doses: ImmunizationFact[], birthDate: string, now: Date): Status {
  const newest = doses[0];
  switch (v.schedule.kind) {
    case "seasonal": {
      const start = seasonStart(now);
      const inSeason = doses.filter((d) => Date.parse(d.date) >= start.getTime());
      if (inSeason.length > 0) return { due: false, overdue: false, why: "", doses: inSeason };
      return {
        due: true,
        overdue: false,
        why: newest
          ? `no dose since ${start.toISOString().slice(0, 10)} (last ${newest.date})`
          : "none recorded",
        doses: newest ? [newest] : [],
      };
    }
    case "booster": {
      if (newest === undefined) return { due: true, overdue: false, why: "none recorded", doses: [] };
      if (plusYears(newest.date, v.schedule.years) > now.getTime())
        return { due: false, overdue: false, why: "", doses: [newest] };
      return {
        due: true,
        overdue: true,
        why: `last dose ${newest.date}, more than ${v.schedule.years} years ago`,
        doses: [newest],
      };
    }
    case "series": {
      const { countFromAge, doses: needed, minWeeksBetween } = v.schedule;
      const counted = doses.filter((d) => ageOn(birthDate, new Date(d.date)) >= countFromAge);
      if (counted.length >= needed) return { due: false, overdue: false, why: "", doses: counted };
      const last = counted[0];
      if (last !== undefined && now.getTime() - Date.parse(last.date) < minWeeksBetween * WEEK_MS) {
        return { due: false, overdue: false, why: "", doses: counted };
      }
      return {
        due: true,
        overdue: false,
        why:
          counted.length === 0
            ? "none recorded"
            : `${counted.length} of ${needed} doses recorded (last ${last?.date})`,
        doses: counted,
      };
    }
  }
}

/**
 * Adult immunizations due on `now`.
 * @param facts - What the caller may see (needs the Patient's birth date).
 * @param now - The day guidance is computed for.
 */
export function immunizationsDue(facts: ClinicalFacts, now: Date): Guidance[] {
  const { birthDate } = facts.patient;
  if (birthDate === undefined) return [];
  const age = ageOn(birthDate, now);
  const out: Guidance[] = [];
  for (const v of ADULT_IMMUNIZATIONS) {
    if (age < v.minAge) continue;
    const doses = facts.immunizations.filter((i) => i.cvx !== undefined && v.cvx.includes(i.cvx));
    const s = status(v, doses, birthDate, now);
    if (!s.due) continue;
    out.push({
      id: `immunization:${v.id}`,
      rule: "immunization",
      indicator: s.overdue ? "warning" : "info",
      summary: `${v.title}: ${s.overdue ? "overdue" : "due"} (${s.why})`,
      detail: `${v.source.publisher} ${v.source.title}, ${v.source.version}. ${
        s.why === "none recorded"
          ? "No dose is recorded in the records shared with you."
          : `Recorded: ${s.why}.`
      }`,
      patientText: `Your ${v.plain} ${s.overdue ? "is overdue" : "may be due"}. Ask your doctor, nurse or pharmacist; if you had it elsewhere, tell them so your record is complete.`,
      source: v.source,
      basedOn: referencesOf(s.doses.flatMap((d) => d.resources)),
      sources: sourcesOf(s.doses),
    });
  }
  return out;
}
