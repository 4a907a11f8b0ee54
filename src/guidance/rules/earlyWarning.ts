/**
 * Early warning: the band of the newest NEWS2 score in the record (written by remote monitoring or
 * entered by a clinician as an Observation), after the Royal College of Physicians' NEWS2 clinical
 * response thresholds. Guidance reads the score as a record; it does not import the monitoring room.
 */
import type { ClinicalFacts } from "../clinicalFacts.js";
import { referencesOf, sourcesOf, type Guidance, type GuidelineSource } from "../guidanceCard.js";

/** Code of a NEWS2 total score: SNOMED CT 1104051000000101 (Royal College of Physicians NEWS2 score). */
export const NEWS2_CODES: readonly string[] = ["1104051000000101"];

const RCP: GuidelineSource = {
  publisher: "Royal College of Physicians",
  title:
    "National Early Warning Score (NEWS) 2: Standardising the assessment of acute-illness severity in the NHS",
  version: "NEWS2, clinical response: 5-6 urgent response, 7 or more emergency response",
  date: "2017-12",
  url: "https://www.rcp.ac.uk/improving-care/resources/national-early-warning-score-news-2/",
};

/**
 * A card for a medium or high newest NEWS2 score.
 * @param facts - What the caller may see.
 */
export function earlyWarning(facts: ClinicalFacts): Guidance[] {
  const score = facts.observations.find((o) => NEWS2_CODES.includes(o.code.code) && o.value !== undefined);
  if (score?.value === undefined) return [];
  const value = score.value;
  if (value < 5) return [];
  const high = value >= 7;
  const when = score.date;
  return [
    {
      id: `early-warning:news2:${high ? "high" : "medium"}`,
      rule: "early-warning",
      indicator: high ? "critical" : "warning",
      summary: `NEWS2 ${value} (${high ? "high" : "medium"} clinical risk) at ${when}`,
      detail: `Newest NEWS2 aggregate score ${value} at ${when}. ${RCP.publisher}: ${high ? "7 or more: emergency response, continuous monitoring" : "5-6: urgent response by a clinician competent in acute illness"}.`,
      patientText: high
        ? "Your latest readings suggest you may be becoming unwell. Your care team has been alerted; if you feel worse, call emergency services."
        : "Some of your latest readings are outside your usual range. Your care team will review them; contact them if you feel unwell.",
      source: RCP,
      basedOn: referencesOf(score.resources),
      sources: sourcesOf([score]),
    },
  ];
}
