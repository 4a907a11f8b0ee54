/**
 * Adult preventive screenings with USPSTF grade A or B, as data: who (sex, age band), how often, and
 * which recorded codes count as the screening having been done. Each entry cites its source; a
 * larger or newer source replaces this file without touching the rule (rules/preventiveCare.ts).
 * Intervals the USPSTF leaves open are taken from the guideline named in `intervalSource`.
 */
import type { GuidelineSource } from "../guidanceCard.js";

/** A recorded code that counts as the screening, and for how many years it counts. */
export interface ScreeningEvidence {
  system: "http://loinc.org" | "http://snomed.info/sct";
  codes: readonly string[];
  /** Years the screening counts for from its date. */
  years: number;
  /** Only from this age (e.g. HPV testing from 30). */
  fromAge?: number;
  what: string;
}

export interface Screening {
  id: string;
  title: string;
  /** Plain words for the patient. */
  plain: string;
  sex: "any" | "female";
  minAge: number;
  maxAge: number;
  /** Only for patients whose latest BMI (LOINC 39156-5) is at least this. */
  minBmi?: number;
  evidence: readonly ScreeningEvidence[];
  source: GuidelineSource;
  intervalSource?: GuidelineSource;
}

const LOINC = "http://loinc.org";
const SNOMED = "http://snomed.info/sct";

export const SCREENINGS: readonly Screening[] = [
  {
    id: "blood-pressure-40",
    title: "Blood pressure screening (annual from 40)",
    plain: "a blood pressure check",
    sex: "any",
    minAge: 40,
    maxAge: 200,
    evidence: [{ system: LOINC, codes: ["55284-4", "85354-9", "8480-6"], years: 1, what: "blood pressure" }],
    source: {
      publisher: "USPSTF",
      title: "Hypertension in Adults: Screening",
      version: "Grade A; annual screening from age 40",
      date: "2021-04-27",
      url: "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/hypertension-in-adults-screening",
    },
  },
  {
    id: "blood-pressure-18",
    title: "Blood pressure screening (every 3-5 years, 18-39)",
    plain: "a blood pressure check",
    sex: "any",
    minAge: 18,
    maxAge: 39,
    evidence: [{ system: LOINC, codes: ["55284-4", "85354-9", "8480-6"], years: 3, what: "blood pressure" }],
    source: {
      publisher: "USPSTF",
      title: "Hypertension in Adults: Screening",
      version: "Grade A; every 3-5 years for adults 18-39 not at increased risk (3 used here)",
      date: "2021-04-27",
      url: "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/hypertension-in-adults-screening",
    },
  },
  {
    id: "lipids",
    title: "Lipid panel for cardiovascular risk (40-75)",
    plain: "a cholesterol blood test",
    sex: "any",
    minAge: 40,
    maxAge: 75,
    evidence: [{ system: LOINC, codes: ["18262-6", "2093-3", "2089-1", "13457-7"], years: 5, what: "cholesterol" }],
    source: {
      publisher: "USPSTF",
      title: "Statin Use for the Primary Prevention of Cardiovascular Disease in Adults",
      version: "Grade B, ages 40-75 (risk assessment needs lipid levels)",
      date: "2022-08-23",
      url: "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/statin-use-in-adults-preventive-medication",
    },
    intervalSource: {
      publisher: "NHLBI",
      title: "Third Report of the NCEP Adult Treatment Panel (ATP III)",
      version: "lipoprotein profile every 5 years",
      date: "2002-12",
    },
  },
  {
    id: "diabetes",
    title: "Prediabetes and type 2 diabetes screening (35-70, overweight)",
    plain: "a blood sugar test (HbA1c)",
    sex: "any",
    minAge: 35,
    maxAge: 70,
    minBmi: 25,
    evidence: [{ system: LOINC, codes: ["4548-4", "17856-6", "1558-6", "2339-0"], years: 3, what: "HbA1c or glucose" }],
    source: {
      publisher: "USPSTF",
      title: "Prediabetes and Type 2 Diabetes: Screening",
      version: "Grade B; adults 35-70 with overweight or obesity; rescreening every 3 years",
      date: "2021-08-24",
      url: "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/screening-for-prediabetes-and-type-2-diabetes",
    },
  },
  {
    id: "colorectal",
    title: "Colorectal cancer screening (45-75)",
    plain: "a bowel cancer screening test (a stool test or a colonoscopy)",
    sex: "any",
    minAge: 45,
    maxAge: 75,
    evidence: [
      { system: SNOMED, codes: ["73761001"], years: 10, what: "colonoscopy" },
      { system: SNOMED, codes: ["44441009"], years: 5, what: "flexible sigmoidoscopy" },
      { system: LOINC, codes: ["57905-2", "29771-3"], years: 1, what: "fecal immunochemical test" },
      { system: LOINC, codes: ["77353-1", "77354-9"], years: 3, what: "stool DNA test" },
    ],
    source: {
      publisher: "USPSTF",
      title: "Colorectal Cancer: Screening",
      version: "Grade A (50-75), Grade B (45-49); intervals per test as in the statement",
      date: "2021-05-18",
      url: "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/colorectal-cancer-screening",
    },
  },
  {
    id: "breast",
    title: "Breast cancer screening, biennial mammography (40-74)",
    plain: "a mammogram",
    sex: "female",
    minAge: 40,
    maxAge: 74,
    evidence: [
      { system: SNOMED, codes: ["71651007", "24623002"], years: 2, what: "mammography" },
      { system: LOINC, codes: ["24606-6", "24604-1"], years: 2, what: "mammography" },
    ],
    source: {
      publisher: "USPSTF",
      title: "Breast Cancer: Screening",
      version: "Grade B; biennial mammography, ages 40-74",
      date: "2024-04-30",
      url: "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/breast-cancer-screening",
    },
  },
  {
    id: "cervical",
    title: "Cervical cancer screening (21-65)",
    plain: "a cervical screening test (Pap or HPV test)",
    sex: "female",
    minAge: 21,
    maxAge: 65,
    evidence: [
      { system: SNOMED, codes: ["90226004", "171149006"], years: 3, what: "cervical cytology" },
      { system: LOINC, codes: ["10524-7", "19762-4"], years: 3, what: "cervical cytology" },
      { system: LOINC, codes: ["21440-3", "30167-1"], years: 5, fromAge: 30, what: "high-risk HPV test" },
    ],
    source: {
      publisher: "USPSTF",
      title: "Cervical Cancer: Screening",
      version: "Grade A; cytology every 3 years (21-65), or hrHPV testing every 5 years (30-65)",
      date: "2018-08-21",
      url: "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/cervical-cancer-screening",
    },
  },
];
