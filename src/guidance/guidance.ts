/**
 * Every rule over one set of facts: the guidance a caller gets for a patient, computed on demand
 * from what that caller may see. Most urgent first.
 */
import type { ClinicalFacts } from "./clinicalFacts.js";
import type { Guidance, Indicator } from "./guidanceCard.js";
import {
  currentMedicationItems,
  drugAllergyConflicts,
  drugInteractions,
  type MedicationItem,
} from "./rules/drugInteractions.js";
import { earlyWarning } from "./rules/earlyWarning.js";
import { immunizationsDue } from "./rules/immunizationsDue.js";
import { labResults } from "./rules/labResults.js";
import { preventiveCareGaps } from "./rules/preventiveCare.js";

const URGENCY: Record<Indicator, number> = { critical: 0, warning: 1, info: 2 };

/** Most urgent first; stable within an urgency. */
export function byUrgency(cards: readonly Guidance[]): Guidance[] {
  return [...cards].sort((a, b) => URGENCY[a.indicator] - URGENCY[b.indicator]);
}

/**
 * All guidance for a patient view.
 * @param facts - What the caller may see.
 * @param now - The day guidance is computed for.
 */
export function patientGuidance(facts: ClinicalFacts, now: Date): Guidance[] {
  // nothing to advise on the record of a patient who died
  if (facts.patient.deceased === true) return [];
  const meds = currentMedicationItems(facts);
  return byUrgency([
    ...earlyWarning(facts),
    ...drugInteractions(meds),
    ...drugAllergyConflicts(meds, facts.allergies),
    ...labResults(facts, now),
    ...immunizationsDue(facts, now),
    ...preventiveCareGaps(facts, now),
  ]);
}

/**
 * Guidance on draft medication orders (CDS Hooks `order-select`): interactions and allergy
 * conflicts that involve a draft.
 * @param facts - What the caller may see.
 * @param drafts - The selected draft orders.
 */
export function orderGuidance(facts: ClinicalFacts, drafts: readonly MedicationItem[]): Guidance[] {
  const items = [...currentMedicationItems(facts), ...drafts];
  return byUrgency([...drugInteractions(items), ...drugAllergyConflicts(items, facts.allergies)]);
}
