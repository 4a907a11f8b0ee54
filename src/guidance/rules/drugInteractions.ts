/**
 * Drug-drug interactions among current medications (and the draft orders of an `order-select`),
 * and drug-allergy conflicts, after data/drugInteractions.ts. Only what the caller may see takes
 * part: a medication hidden by consent is not in the facts, so no card can name or imply it.
 */
import type { AllergyFact, ClinicalFacts, MedicationFact } from "../clinicalFacts.js";
import { ALLERGY_CLASSES, INTERACTIONS, type DrugClass } from "../data/drugInteractions.js";
import { referencesOf, sourcesOf, type Guidance } from "../guidanceCard.js";

/** A medication under consideration: recorded (current) or a draft order. */
export interface MedicationItem {
  name: string;
  /** `ResourceType/id`, when it has one. */
  reference?: string;
  fact?: MedicationFact;
  draft: boolean;
}

/** True when one of the class's ingredients is a whole word of the drug's name. */
export function inClass(drugName: string, cls: DrugClass): boolean {
  const name = drugName.toLowerCase();
  return cls.ingredients.some((ingredient) => {
    const at = name.indexOf(ingredient);
    if (at < 0) return false;
    const before = at === 0 ? " " : name[at - 1];
    const after = name[at + ingredient.length] ?? " ";
    return !/[a-z]/.test(before ?? " ") && !/[a-z]/.test(after);
  });
}

const itemRefs = (items: readonly MedicationItem[]): string[] =>
  items.flatMap((i) => (i.fact ? referencesOf(i.fact.resources) : i.reference ? [i.reference] : []));

/**
 * Interaction cards among `items` (every pair with at least one current-or-draft medication on
 * each side; with drafts present, only pairs that involve a draft, as order-select asks).
 * @param items - Current medications and draft orders.
 */
export function drugInteractions(items: readonly MedicationItem[]): Guidance[] {
  const anyDraft = items.some((i) => i.draft);
  const out: Guidance[] = [];
  for (const rule of INTERACTIONS) {
    for (const x of items) {
      for (const y of items) {
        if (x === y || !inClass(x.name, rule.a) || !inClass(y.name, rule.b)) continue;
        if (anyDraft && !x.draft && !y.draft) continue;
        const drafts = [x, y]
          .filter((i) => i.draft && i.reference !== undefined)
          .map((i) => i.reference as string);
        const facts = [x, y].flatMap((i) => (i.fact ? [i.fact] : []));
        out.push({
          id: `interaction:${rule.id}:${[x.name, y.name].sort().join("+")}`,
          rule: "interaction",
          indicator: rule.severity,
          summary: `Interaction: ${x.name} with ${y.name} (${rule.effect})`.slice(0, 139),
          detail: `**${rule.a.name}** with **${rule.b.name}**: ${rule.effect}. Management: ${rule.management}.\n\nSource: ${rule.source.title}.`,
          patientText: `Two of your medicines (${x.name} and ${y.name}) should not normally be taken together. Do not stop either on your own: ask your doctor or pharmacist soon.`,
          source: rule.source,
          basedOn: itemRefs([x, y]),
          sources: sourcesOf(facts),
          ...(drafts.length > 0
            ? { suggestion: { label: `Remove the draft order`, removeOrders: drafts } }
            : {}),
        });
      }
    }
  }
  return out;
}

/**
 * Drug-allergy conflict cards: a current or drafted medication of a class the patient is allergic to.
 * @param items - Current medications and draft orders.
 * @param allergies - The patient's active allergies the caller may see.
 */
export function drugAllergyConflicts(
  items: readonly MedicationItem[],
  allergies: readonly AllergyFact[],
): Guidance[] {
  const anyDraft = items.some((i) => i.draft);
  const out: Guidance[] = [];
  for (const allergy of allergies) {
    const text = allergy.code.display.toLowerCase();
    for (const cls of ALLERGY_CLASSES) {
      if (!cls.allergyTerms.some((t) => text.includes(t))) continue;
      for (const item of items) {
        if ((anyDraft && !item.draft) || !inClass(item.name, cls.drugs)) continue;
        const drafts = item.draft && item.reference ? [item.reference] : [];
        out.push({
          id: `allergy:${cls.id}:${item.name}`,
          rule: "allergy",
          indicator: allergy.criticality === "high" ? "critical" : "warning",
          summary: `Allergy conflict: ${item.name} with recorded allergy "${allergy.code.display}"`.slice(
            0,
            139,
          ),
          detail: `${item.name} belongs to the ${cls.drugs.name}; the patient has an active allergy record "${allergy.code.display}". Source: ${cls.source.title}.`,
          patientText: `${item.name} may not be right for you because of your recorded allergy (${allergy.code.display}). Ask your doctor or pharmacist before taking it.`,
          source: cls.source,
          basedOn: [...referencesOf(allergy.resources), ...itemRefs([item])],
          sources: sourcesOf([allergy, ...(item.fact ? [item.fact] : [])]),
          ...(drafts.length > 0
            ? { suggestion: { label: "Remove the draft order", removeOrders: drafts } }
            : {}),
        });
      }
    }
  }
  return out;
}

/** The recorded current medications as items. */
export function currentMedicationItems(facts: ClinicalFacts): MedicationItem[] {
  return facts.medications.map((fact) => ({ name: fact.code.display, fact, draft: false }));
}
