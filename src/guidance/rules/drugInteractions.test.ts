import { describe, expect, it } from "vitest";
import { clinicalFacts } from "../clinicalFacts.js";
import { allergy, medication, ORG_A, ORG_B } from "../../../test/support/guidanceFacts.js";
import { INTERACTIONS } from "../data/drugInteractions.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import {
  currentMedicationItems,
  drugAllergyConflicts,
  drugInteractions,
  inClass,
} from "./drugInteractions.js";

const ids = (resources: FhirResource[]) =>
  drugInteractions(currentMedicationItems(clinicalFacts(resources))).map((g) => `${g.id} ${g.indicator}`);

describe("drug-drug interactions (ONC high-priority list)", () => {
  it("every pair of the list fires on one drug of each class, and only then", () => {
    for (const rule of INTERACTIONS) {
      const a = `${rule.a.ingredients[0]} 10 MG Oral Tablet`;
      const b = `${rule.b.ingredients.find((i) => !rule.a.ingredients.includes(i))} 10 MG Oral Tablet`;
      const found = ids([medication("1", a), medication("2", b)]);
      expect(
        found.some((f) => f.startsWith(`interaction:${rule.id}:`)),
        rule.id,
      ).toBe(true);
      expect(ids([medication("1", a), medication("3", "Acetaminophen 325 MG Oral Tablet")])).toEqual([]);
    }
  });

  it("matches ingredients as whole words", () => {
    expect(
      inClass("Simvastatin 20 MG Oral Tablet", INTERACTIONS.find((i) => i.id === "statin-3a4-inhibitor")!.a),
    ).toBe(true);
    expect(
      inClass("Notsimvastatinol 20 MG", INTERACTIONS.find((i) => i.id === "statin-3a4-inhibitor")!.a),
    ).toBe(false);
    expect(
      inClass("Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", {
        name: "x",
        ingredients: ["clavulanate"],
      }),
    ).toBe(true);
  });

  it("stopped medications take no part", () => {
    expect(
      ids([medication("1", "Simvastatin 20 MG"), medication("2", "Clarithromycin 500 MG", ORG_A, "stopped")]),
    ).toEqual([]);
    expect(ids([medication("1", "Simvastatin 20 MG"), medication("2", "Clarithromycin 500 MG")])[0]).toMatch(
      /critical$/,
    );
  });

  it("with draft orders, only pairs that involve a draft, with a suggestion to remove it", () => {
    const facts = clinicalFacts([
      medication("1", "Simvastatin 20 MG", ORG_A),
      medication("2", "Clarithromycin 500 MG", ORG_B),
    ]);
    const items = [
      ...currentMedicationItems(facts),
      { name: "Phenelzine 15 MG Oral Tablet", reference: "MedicationRequest/draft-1", draft: true },
      { name: "Sertraline 50 MG Oral Tablet", reference: "MedicationRequest/draft-2", draft: true },
    ];
    const cards = drugInteractions(items);
    expect(cards.map((c) => c.id)).toEqual([
      "interaction:ssri-maoi:Phenelzine 15 MG Oral Tablet+Sertraline 50 MG Oral Tablet",
    ]);
    expect(cards[0]?.suggestion?.removeOrders.sort()).toEqual([
      "MedicationRequest/draft-1",
      "MedicationRequest/draft-2",
    ]);
  });

  it("drug-allergy: a penicillin with a penicillin allergy; critical when the allergy is", () => {
    const facts = clinicalFacts([
      allergy("Allergy to penicillin", "high"),
      medication("1", "Amoxicillin 250 MG Oral Capsule"),
    ]);
    const cards = drugAllergyConflicts(currentMedicationItems(facts), facts.allergies);
    expect(cards.map((c) => [c.rule, c.indicator])).toEqual([["allergy", "critical"]]);
    const low = clinicalFacts([
      allergy("Allergy to penicillin", "low"),
      medication("1", "Amoxicillin 250 MG Oral Capsule"),
    ]);
    expect(drugAllergyConflicts(currentMedicationItems(low), low.allergies)[0]?.indicator).toBe("warning");
    const other = clinicalFacts([
      allergy("Allergy to peanuts", "high"),
      medication("1", "Amoxicillin 250 MG Oral Capsule"),
    ]);
    expect(drugAllergyConflicts(currentMedicationItems(other), other.allergies)).toEqual([]);
  });

  it("the same medication at two organizations is one current medication with both sources", () => {
    const facts = clinicalFacts([
      medication("316049", "Hydrochlorothiazide 25 MG", ORG_A),
      medication("316049", "Hydrochlorothiazide 25 MG", ORG_B),
    ]);
    expect(facts.medications).toHaveLength(1);
    expect(facts.medications[0]?.sources).toEqual([ORG_A, ORG_B]);
  });
});
