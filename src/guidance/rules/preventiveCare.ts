/**
 * Preventive-care gaps: for each screening of data/preventiveScreenings.ts that applies to the
 * patient's age and sex, the newest recorded evidence (an Observation or a Procedure with one of
 * the listed codes) counts for its number of years; past that, or with none recorded, the
 * screening is due. Age and sex come from the Patient resource: without it (not shared with the
 * caller) no screening rule runs. "None recorded" means none in what the caller may see, and the
 * card says so.
 */
import { ageOn, type ClinicalFacts, type ObservationFact, type ProcedureFact } from "../clinicalFacts.js";
import { SCREENINGS, type Screening, type ScreeningEvidence } from "../data/preventiveScreenings.js";
import { referencesOf, sourcesOf, type Guidance } from "../guidanceCard.js";

const BMI = "39156-5";

/** `iso` plus whole `years` (calendar), as a time. */
export function plusYears(iso: string, years: number): number {
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
}

interface Found {
  fact: ObservationFact | ProcedureFact;
  evidence: ScreeningEvidence;
}

/** The evidence that counts longest into the future (newest screening by its expiry), if any. */
function bestEvidence(facts: ClinicalFacts, screening: Screening, birthDate: string): Found | undefined {
  let best: Found | undefined;
  let bestUntil = -Infinity;
  for (const evidence of screening.evidence) {
    const pool: (ObservationFact | ProcedureFact)[] =
      evidence.system === "http://loinc.org" ? facts.observations : facts.procedures;
    for (const fact of pool) {
      if (fact.code.system !== evidence.system || !evidence.codes.includes(fact.code.code)) continue;
      if (evidence.fromAge !== undefined && ageOn(birthDate, new Date(fact.date)) < evidence.fromAge)
        continue;
      const until = plusYears(fact.date, evidence.years);
      if (until > bestUntil) {
        bestUntil = until;
        best = { fact, evidence };
      }
    }
  }
  return best;
}

/**
 * The screenings due for the patient on `now`.
 * @param facts - What the caller may see.
 * @param now - The day guidance is computed for.
 */
export function preventiveCareGaps(facts: ClinicalFacts, now: Date): Guidance[] {
  const { birthDate, gender } = facts.patient;
  if (birthDate === undefined) return [];
  const age = ageOn(birthDate, now);
  const bmi = facts.observations.find((o) => o.loinc === BMI && o.value !== undefined)?.value;
  const out: Guidance[] = [];
  for (const s of SCREENINGS) {
    if (age < s.minAge || age > s.maxAge) continue;
    if (s.sex === "female" && gender !== "female") continue;
    if (s.minBmi !== undefined && (bmi === undefined || bmi < s.minBmi)) continue;
    const found = bestEvidence(facts, s, birthDate);
    if (found !== undefined && plusYears(found.fact.date, found.evidence.years) > now.getTime()) continue;
    const last = found === undefined ? undefined : found.fact.date.slice(0, 10);
    const patient = facts.patient.resource === undefined ? [] : [facts.patient.resource];
    out.push({
      id: `preventive:${s.id}`,
      rule: "preventive",
      indicator: "info",
      summary:
        last === undefined
          ? `${s.title}: due (none recorded in the records you may see)`
          : `${s.title}: due (last ${found?.evidence.what} ${last})`,
      detail: [
        `Age ${age}${s.sex === "female" ? ", female" : ""}. ${s.source.publisher}: ${s.source.version}.`,
        last === undefined
          ? "No qualifying result or procedure is recorded in the records shared with you."
          : `The last ${found?.evidence.what} on record (${last}) counts for ${found?.evidence.years} year(s).`,
        s.intervalSource ? `Interval: ${s.intervalSource.publisher}, ${s.intervalSource.version}.` : "",
      ]
        .filter((l) => l !== "")
        .join("\n\n"),
      patientText: `You may be due for ${s.plain}. It is a routine check for people of your age; ask your doctor or nurse about it at your next visit.`,
      source: s.source,
      basedOn: referencesOf([...patient, ...(found ? found.fact.resources : [])]),
      sources: sourcesOf(found ? [found.fact] : []),
    });
  }
  return out;
}
