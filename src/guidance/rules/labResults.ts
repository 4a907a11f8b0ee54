/**
 * Abnormal and worsening lab results, after data/labThresholds.ts: the newest result of each test
 * (converted to the unit its bands are in) against the bands, and the change from the previous
 * result against the test's worsening threshold. A result in a unit the data cannot convert is
 * left alone rather than misread. The bands are adults' (WHO's anaemia thresholds for men and women
 * apply from 15, the others from 18): a patient known to be under 18 gets no lab card.
 */
import { ageOn, type ClinicalFacts, type ObservationFact } from "../clinicalFacts.js";
import { LAB_TESTS, type LabBand, type LabTest } from "../data/labThresholds.js";
import { referencesOf, sourcesOf, type Guidance } from "../guidanceCard.js";

/** Unit spellings compared without case and spaces. */
const normalizeUnit = (u: string): string => u.replace(/\s+/g, "").toLowerCase();

/**
 * The value in the test's unit, or undefined when the unit is unknown.
 * @param test - The lab test.
 * @param value - The reported value.
 * @param unit - The reported unit (UCUM code or display).
 */
export function inCanonicalUnit(test: LabTest, value: number, unit: string | undefined): number | undefined {
  if (unit === undefined) return undefined;
  const u = normalizeUnit(unit);
  if (u === normalizeUnit(test.unit)) return value;
  for (const [from, c] of Object.entries(test.conversions)) {
    if (normalizeUnit(from) === u) return value * c.factor + (c.offset ?? 0);
  }
  return undefined;
}

/** True when `value` lies in the band (and the band's gender, if any, is the patient's). */
export function inBand(band: LabBand, value: number, gender: string | undefined): boolean {
  if (band.gender !== undefined && band.gender !== gender) return false;
  if (band.atLeast !== undefined && value < band.atLeast) return false;
  if (band.above !== undefined && value <= band.above) return false;
  if (band.below !== undefined && value >= band.below) return false;
  return true;
}

const round = (v: number): number => Math.round(v * 100) / 100;

interface Result {
  fact: ObservationFact;
  value: number;
}

/** Age from which the adult bands apply. */
const ADULT_AGE = 18;

/**
 * Cards for the patient's abnormal and worsening lab results.
 * @param facts - What the caller may see.
 * @param now - The day guidance is computed for (for the patient's age).
 */
export function labResults(facts: ClinicalFacts, now: Date): Guidance[] {
  const { birthDate } = facts.patient;
  if (birthDate !== undefined && ageOn(birthDate, now) < ADULT_AGE) return [];
  const out: Guidance[] = [];
  for (const test of LAB_TESTS) {
    const results: Result[] = [];
    for (const fact of facts.observations) {
      if (fact.loinc === undefined || !test.loinc.includes(fact.loinc) || fact.value === undefined) continue;
      const value = inCanonicalUnit(test, fact.value, fact.unit);
      if (value !== undefined) results.push({ fact, value });
    }
    const [newest, previous] = results;
    if (newest === undefined) continue;
    const band = test.bands.find((b) => inBand(b, newest.value, facts.patient.gender));
    const when = newest.fact.date.slice(0, 10);
    if (band !== undefined) {
      out.push({
        id: `lab:${test.id}:${band.label}`,
        rule: "lab",
        indicator: band.indicator,
        summary: `${test.name} ${round(newest.value)} ${test.unit} on ${when}: ${band.label}`,
        detail: `Newest ${test.name} result ${round(newest.value)} ${test.unit} (${when}). ${band.source.publisher}, ${band.source.title}: ${band.source.version}.`,
        patientText: `Your latest result for ${test.plain} (${when}) was ${band.plain}. Please talk to your doctor about what it means for you and whether anything should change.`,
        source: band.source,
        basedOn: referencesOf(newest.fact.resources),
        sources: sourcesOf([newest.fact]),
      });
    }
    const trend = test.trend;
    if (trend === undefined || previous === undefined) continue;
    const change = trend.direction === "rise" ? newest.value - previous.value : previous.value - newest.value;
    const worse =
      (trend.absolute !== undefined && change >= trend.absolute) ||
      (trend.relative !== undefined && previous.value > 0 && change / previous.value >= trend.relative);
    if (!worse) continue;
    const then = previous.fact.date.slice(0, 10);
    out.push({
      id: `lab:${test.id}:trend`,
      rule: "lab",
      indicator: "warning",
      summary: `${test.name} ${trend.label}: ${round(previous.value)} (${then}) → ${round(newest.value)} ${test.unit} (${when})`,
      detail: `${test.name} ${trend.label} between ${then} and ${when}. ${trend.source.publisher}, ${trend.source.title}: ${trend.source.version}.`,
      patientText: `Your results for ${test.plain} have changed since your previous test. Please ask your doctor to go over them with you.`,
      source: trend.source,
      basedOn: referencesOf([...newest.fact.resources, ...previous.fact.resources]),
      sources: sourcesOf([newest.fact, previous.fact]),
    });
  }
  return out;
}
