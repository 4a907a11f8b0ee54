/**
 * One piece of guidance a rule produces: what a clinician reads (summary, detail) and what the
 * patient reads (plain words with a next step), the guideline it comes from, and the facts it was
 * drawn from (by reference and by organization). CDS Hooks cards and the patient's page are both
 * made from it.
 */

/** Where a rule's threshold or interval comes from. */
export interface GuidelineSource {
  /** Who published it, as a reader would name it ("USPSTF", "CDC"). */
  publisher: string;
  /** The recommendation or guideline's title. */
  title: string;
  /** Version, grade or edition. */
  version: string;
  /** Publication date (YYYY-MM-DD or YYYY-MM). */
  date: string;
  url?: string;
}

export type Indicator = "info" | "warning" | "critical";

/** A suggested action on the draft order (CDS Hooks suggestion): only deletion of the order here. */
export interface GuidanceSuggestion {
  label: string;
  /** Relative references of the draft orders to remove. */
  removeOrders: string[];
}

export interface Guidance {
  /** Stable for the same rule and the same facts (CDS Hooks feedback names it). */
  id: string;
  /** Rule family: preventive, immunization, lab, interaction, allergy, early-warning. */
  rule: "preventive" | "immunization" | "lab" | "interaction" | "allergy" | "early-warning";
  indicator: Indicator;
  /** For clinicians, under 140 characters. */
  summary: string;
  /** For clinicians, GitHub-flavoured markdown. */
  detail: string;
  /** For the patient: plain words, always with a next step. */
  patientText: string;
  source: GuidelineSource;
  /** Relative references of the resources the guidance was drawn from. */
  basedOn: string[];
  /** Organizations that recorded those resources. */
  sources: string[];
  suggestion?: GuidanceSuggestion;
}

/** `ResourceType/id` of each resource that has an id. */
export function referencesOf(resources: readonly { resourceType: string; id?: unknown }[]): string[] {
  return resources.filter((r) => typeof r.id === "string").map((r) => `${r.resourceType}/${r.id as string}`);
}

/** The sources of several facts, each once. */
export function sourcesOf(facts: readonly { sources: readonly string[] }[]): string[] {
  return [...new Set(facts.flatMap((f) => f.sources))];
}
