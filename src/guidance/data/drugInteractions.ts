/**
 * Drug-drug interactions and drug-allergy conflicts, as data. The interactions are the ONC
 * high-priority list (Phansalkar et al., "High-priority drug-drug interactions for use in
 * electronic health records", JAMIA 2012;19(5):735-743): pairs of drug classes that are
 * contraindicated together. Drugs are matched by ingredient name in the medication's RxNorm display
 * (Synthea codes clinical drugs, whose names carry their ingredients), so no RxNorm release is
 * needed; a larger source (a knowledge base keyed by RxNorm ingredient) replaces this file.
 * Left out: the list's "QT-prolonging agents with each other" pair, which needs a maintained QT list.
 */
import type { GuidelineSource } from "../guidanceCard.js";

export interface DrugClass {
  name: string;
  /** Lower-case ingredient names, matched as whole words in the drug's name. */
  ingredients: readonly string[];
}

export interface Interaction {
  id: string;
  a: DrugClass;
  b: DrugClass;
  severity: "critical" | "warning";
  effect: string;
  management: string;
  source: GuidelineSource;
}

const ONC: GuidelineSource = {
  publisher: "ONC high-priority drug-drug interaction list",
  title: "Phansalkar S, et al. High-priority drug-drug interactions for use in electronic health records. JAMIA 2012;19(5):735-743",
  version: "15 interactions (2012)",
  date: "2012-09",
  url: "https://doi.org/10.1136/amiajnl-2011-000612",
};

const MAOI: DrugClass = {
  name: "monoamine oxidase inhibitors",
  ingredients: ["phenelzine", "tranylcypromine", "isocarboxazid", "selegiline", "rasagiline"],
};
const SSRI: DrugClass = {
  name: "SSRIs",
  ingredients: ["citalopram", "escitalopram", "fluoxetine", "fluvoxamine", "paroxetine", "sertraline"],
};
const TCA: DrugClass = {
  name: "tricyclic antidepressants",
  ingredients: ["amitriptyline", "nortriptyline", "imipramine", "desipramine", "clomipramine", "doxepin", "protriptyline", "trimipramine"],
};
const NARCOTIC: DrugClass = {
  name: "narcotic analgesics (meperidine and others)",
  ingredients: ["meperidine", "methadone", "tramadol", "tapentadol", "fentanyl", "dextromethorphan"],
};
const AMPHETAMINE: DrugClass = {
  name: "amphetamines",
  ingredients: ["amphetamine", "dextroamphetamine", "lisdexamfetamine", "methamphetamine"],
};
const TRIPTAN: DrugClass = {
  name: "triptans",
  ingredients: ["sumatriptan", "rizatriptan", "zolmitriptan", "naratriptan", "almotriptan", "frovatriptan", "eletriptan"],
};
const PPI: DrugClass = {
  name: "proton pump inhibitors",
  ingredients: ["omeprazole", "esomeprazole", "lansoprazole", "dexlansoprazole", "pantoprazole", "rabeprazole"],
};
const STRONG_3A4_INHIBITOR: DrugClass = {
  name: "strong CYP3A4 inhibitors",
  ingredients: ["clarithromycin", "itraconazole", "ketoconazole", "posaconazole", "voriconazole", "ritonavir", "cobicistat", "nefazodone", "telithromycin"],
};
const PROTEASE_INHIBITOR: DrugClass = {
  name: "HIV protease inhibitors",
  ingredients: ["atazanavir", "darunavir", "fosamprenavir", "indinavir", "lopinavir", "nelfinavir", "ritonavir", "saquinavir", "tipranavir"],
};
const STRONG_3A4_INDUCER: DrugClass = {
  name: "strong CYP3A4 inducers",
  ingredients: ["rifampin", "rifabutin", "carbamazepine", "phenytoin", "phenobarbital", "st. john's wort"],
};
const CYP1A2_INHIBITOR: DrugClass = { name: "strong CYP1A2 inhibitors", ingredients: ["fluvoxamine", "ciprofloxacin"] };

export const INTERACTIONS: readonly Interaction[] = [
  {
    id: "amphetamine-maoi",
    a: AMPHETAMINE,
    b: MAOI,
    severity: "critical",
    effect: "hypertensive crisis",
    management: "do not combine; allow 14 days after stopping the MAO inhibitor",
    source: ONC,
  },
  {
    id: "atazanavir-ppi",
    a: { name: "atazanavir", ingredients: ["atazanavir"] },
    b: PPI,
    severity: "warning",
    effect: "much lower atazanavir levels and loss of antiviral effect",
    management: "avoid the combination; consider an H2 blocker under the label's dosing rules",
    source: ONC,
  },
  {
    id: "thiopurine-xanthine-oxidase",
    a: { name: "azathioprine or mercaptopurine", ingredients: ["azathioprine", "mercaptopurine"] },
    b: { name: "xanthine oxidase inhibitors", ingredients: ["allopurinol", "febuxostat"] },
    severity: "critical",
    effect: "thiopurine toxicity (bone-marrow suppression)",
    management: "avoid, or reduce the thiopurine dose substantially and monitor blood counts",
    source: ONC,
  },
  {
    id: "ssri-maoi",
    a: SSRI,
    b: MAOI,
    severity: "critical",
    effect: "serotonin syndrome",
    management: "do not combine; observe the washout period of each drug",
    source: ONC,
  },
  {
    id: "irinotecan-3a4-inhibitor",
    a: { name: "irinotecan", ingredients: ["irinotecan"] },
    b: STRONG_3A4_INHIBITOR,
    severity: "critical",
    effect: "higher SN-38 exposure: severe neutropenia and diarrhoea",
    management: "stop the CYP3A4 inhibitor at least a week before irinotecan",
    source: ONC,
  },
  {
    id: "narcotic-maoi",
    a: NARCOTIC,
    b: MAOI,
    severity: "critical",
    effect: "serotonin syndrome or opioid toxicity",
    management: "do not combine",
    source: ONC,
  },
  {
    id: "tca-maoi",
    a: TCA,
    b: MAOI,
    severity: "critical",
    effect: "serotonin syndrome, hypertensive crisis",
    management: "do not combine",
    source: ONC,
  },
  {
    id: "ramelteon-1a2-inhibitor",
    a: { name: "ramelteon", ingredients: ["ramelteon"] },
    b: { name: "fluvoxamine", ingredients: ["fluvoxamine"] },
    severity: "warning",
    effect: "ramelteon exposure up to 190-fold",
    management: "do not combine",
    source: ONC,
  },
  {
    id: "pi-3a4-inducer",
    a: PROTEASE_INHIBITOR,
    b: STRONG_3A4_INDUCER,
    severity: "critical",
    effect: "loss of antiviral effect and resistance",
    management: "do not combine",
    source: ONC,
  },
  {
    id: "statin-3a4-inhibitor",
    a: { name: "simvastatin or lovastatin", ingredients: ["simvastatin", "lovastatin"] },
    b: { name: "strong CYP3A4 inhibitors and protease inhibitors", ingredients: [...new Set([...STRONG_3A4_INHIBITOR.ingredients, ...PROTEASE_INHIBITOR.ingredients])] },
    severity: "critical",
    effect: "myopathy and rhabdomyolysis",
    management: "do not combine; use a statin not metabolised by CYP3A4, or pause the statin",
    source: ONC,
  },
  {
    id: "ergot-3a4-inhibitor",
    a: { name: "ergot alkaloids", ingredients: ["ergotamine", "dihydroergotamine", "methylergonovine"] },
    b: { name: "strong CYP3A4 inhibitors and protease inhibitors", ingredients: [...new Set([...STRONG_3A4_INHIBITOR.ingredients, ...PROTEASE_INHIBITOR.ingredients])] },
    severity: "critical",
    effect: "ergotism (acute vasospasm and ischaemia)",
    management: "do not combine",
    source: ONC,
  },
  {
    id: "tizanidine-1a2-inhibitor",
    a: { name: "tizanidine", ingredients: ["tizanidine"] },
    b: CYP1A2_INHIBITOR,
    severity: "critical",
    effect: "severe hypotension and sedation",
    management: "do not combine",
    source: ONC,
  },
  {
    id: "tranylcypromine-procarbazine",
    a: { name: "tranylcypromine", ingredients: ["tranylcypromine"] },
    b: { name: "procarbazine", ingredients: ["procarbazine"] },
    severity: "critical",
    effect: "hypertensive crisis",
    management: "do not combine",
    source: ONC,
  },
  {
    id: "triptan-maoi",
    a: TRIPTAN,
    b: MAOI,
    severity: "warning",
    effect: "serotonin syndrome (higher triptan levels)",
    management: "avoid within 2 weeks of an MAO-A inhibitor",
    source: ONC,
  },
];

/** A drug class an allergy names, and the drugs it rules out. */
export interface AllergyClass {
  id: string;
  /** Lower-case words that identify the allergy in its code's display. */
  allergyTerms: readonly string[];
  drugs: DrugClass;
  source: GuidelineSource;
}

const DRUG_ALLERGY: GuidelineSource = {
  publisher: "AAAAI/ACAAI Joint Task Force on Practice Parameters",
  title: "Drug allergy: A 2022 practice parameter update",
  version: "2022; class cross-reactivity of penicillins; NSAID hypersensitivity",
  date: "2022-12",
  url: "https://doi.org/10.1016/j.jaci.2022.08.028",
};

export const ALLERGY_CLASSES: readonly AllergyClass[] = [
  {
    id: "penicillin",
    allergyTerms: ["penicillin", "amoxicillin", "ampicillin"],
    drugs: {
      name: "penicillins",
      ingredients: ["penicillin", "amoxicillin", "ampicillin", "dicloxacillin", "nafcillin", "oxacillin", "piperacillin"],
    },
    source: DRUG_ALLERGY,
  },
  {
    id: "nsaid",
    allergyTerms: ["aspirin", "ibuprofen", "naproxen", "nsaid", "non-steroidal"],
    drugs: {
      name: "NSAIDs",
      ingredients: ["aspirin", "ibuprofen", "naproxen", "diclofenac", "ketorolac", "celecoxib", "meloxicam", "indomethacin"],
    },
    source: DRUG_ALLERGY,
  },
  {
    id: "sulfonamide",
    allergyTerms: ["sulfonamide", "sulfa", "sulfamethoxazole"],
    drugs: { name: "sulfonamide antibiotics", ingredients: ["sulfamethoxazole", "sulfadiazine", "sulfisoxazole"] },
    source: DRUG_ALLERGY,
  },
];
