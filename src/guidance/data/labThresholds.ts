/**
 * Lab results worth a clinician's attention, as data: the LOINC codes of each test, the unit the
 * thresholds are in (with conversions from the other units labs report), the bands with the
 * guideline each comes from, and the change between the two newest results that counts as
 * worsening. A larger source replaces this file without touching the rule (rules/labResults.ts).
 */
import type { GuidelineSource, Indicator } from "../guidanceCard.js";

export interface LabBand {
  /** Inclusive lower bound (absent: no lower bound). */
  atLeast?: number;
  /** Exclusive lower bound, where the guideline says "more than". */
  above?: number;
  /** Exclusive upper bound (absent: no upper bound). */
  below?: number;
  /** Only for this administrative gender. */
  gender?: "female" | "male";
  indicator: Indicator;
  label: string;
  plain: string;
  source: GuidelineSource;
}

export interface LabTrend {
  /** "rise" or "fall" between the previous and the newest result. */
  direction: "rise" | "fall";
  /** Absolute change in the canonical unit... */
  absolute?: number;
  /** ...or relative change (0.25 = 25 %) that counts as worsening. */
  relative?: number;
  label: string;
  source: GuidelineSource;
}

export interface LabTest {
  id: string;
  name: string;
  plain: string;
  loinc: readonly string[];
  /** The unit bands are in, and factors from other units (value × factor + offset). */
  unit: string;
  conversions: Readonly<Record<string, { factor: number; offset?: number }>>;
  bands: readonly LabBand[];
  trend?: LabTrend;
}

const ADA: GuidelineSource = {
  publisher: "American Diabetes Association",
  title: "Standards of Care in Diabetes, section 2: Diagnosis and Classification",
  version: "2025",
  date: "2025-01",
};
const KDIGO: GuidelineSource = {
  publisher: "KDIGO",
  title: "Clinical Practice Guideline for the Evaluation and Management of Chronic Kidney Disease",
  version: "2012; GFR categories G3a-G5; a 'certain drop' is a category change with a fall of 25 % or more",
  date: "2013-01",
};
const ACC_AHA: GuidelineSource = {
  publisher: "AHA/ACC",
  title: "Guideline on the Management of Blood Cholesterol",
  version: "2018; LDL-C ≥ 190 mg/dL: high-intensity statin without risk calculation",
  date: "2018-11-10",
};
const ERC: GuidelineSource = {
  publisher: "European Resuscitation Council",
  title: "Guidelines 2021: Cardiac arrest in special circumstances (hypo-/hyperkalaemia)",
  version: "2021; hyperkalaemia > 5.5, severe ≥ 6.5; hypokalaemia < 3.5, severe < 2.5 mmol/L",
  date: "2021-04",
};
const WHO_HB: GuidelineSource = {
  publisher: "WHO",
  title: "Haemoglobin concentrations for the diagnosis of anaemia and assessment of severity",
  version: "WHO/NMH/NHD/MNM/11.1; anaemia < 13.0 g/dL (men), < 12.0 g/dL (non-pregnant women); severe < 8.0",
  date: "2011",
};
const ISTH: GuidelineSource = {
  publisher: "ISTH",
  title: "Definition of major bleeding in clinical investigations (Schulman and Kearon)",
  version: "a fall in haemoglobin of 2 g/dL (20 g/L) or more",
  date: "2005",
};

export const LAB_TESTS: readonly LabTest[] = [
  {
    id: "hba1c",
    name: "HbA1c",
    plain: "your long-term blood sugar (HbA1c)",
    loinc: ["4548-4", "17856-6"],
    unit: "%",
    conversions: { "mmol/mol": { factor: 0.09148, offset: 2.152 } },
    bands: [
      { atLeast: 6.5, indicator: "warning", label: "in the diabetes range (≥ 6.5 %)", plain: "higher than normal", source: ADA },
      { atLeast: 5.7, below: 6.5, indicator: "info", label: "in the prediabetes range (5.7-6.4 %)", plain: "a little higher than normal", source: ADA },
    ],
    trend: {
      direction: "rise",
      absolute: 0.5,
      label: "rose by 0.5 percentage points or more",
      source: { ...ADA, version: "2025; a change of 0.5 % is clinically meaningful" },
    },
  },
  {
    id: "egfr",
    name: "eGFR",
    plain: "your kidney function (eGFR)",
    loinc: ["33914-3", "62238-1", "98979-8", "48642-3", "48643-1", "69405-9"],
    unit: "mL/min/{1.73_m2}",
    conversions: { "mL/min/1.73m2": { factor: 1 }, "mL/min": { factor: 1 } },
    bands: [
      { below: 30, indicator: "critical", label: "severely decreased (G4-G5, < 30)", plain: "much lower than normal", source: KDIGO },
      { atLeast: 30, below: 60, indicator: "warning", label: "decreased (G3, 30-59)", plain: "lower than normal", source: KDIGO },
    ],
    trend: { direction: "fall", relative: 0.25, label: "fell by 25 % or more", source: KDIGO },
  },
  {
    id: "ldl",
    name: "LDL cholesterol",
    plain: "your LDL ('bad') cholesterol",
    loinc: ["18262-6", "13457-7", "2089-1"],
    unit: "mg/dL",
    conversions: { "mmol/L": { factor: 38.67 } },
    bands: [{ atLeast: 190, indicator: "warning", label: "severe hypercholesterolaemia (≥ 190 mg/dL)", plain: "high", source: ACC_AHA }],
  },
  {
    id: "potassium",
    name: "Potassium",
    plain: "your potassium level",
    loinc: ["6298-4", "2823-3"],
    unit: "mmol/L",
    conversions: { "meq/L": { factor: 1 } },
    bands: [
      { atLeast: 6.5, indicator: "critical", label: "severe hyperkalaemia (≥ 6.5 mmol/L)", plain: "much higher than normal", source: ERC },
      { above: 5.5, below: 6.5, indicator: "warning", label: "hyperkalaemia (> 5.5 mmol/L)", plain: "higher than normal", source: ERC },
      { below: 2.5, indicator: "critical", label: "severe hypokalaemia (< 2.5 mmol/L)", plain: "much lower than normal", source: ERC },
      { atLeast: 2.5, below: 3.5, indicator: "warning", label: "hypokalaemia (< 3.5 mmol/L)", plain: "lower than normal", source: ERC },
    ],
  },
  {
    id: "hemoglobin",
    name: "Haemoglobin",
    plain: "your haemoglobin (red blood cells)",
    loinc: ["718-7"],
    unit: "g/dL",
    conversions: { "g/L": { factor: 0.1 } },
    bands: [
      { below: 8, indicator: "critical", label: "severe anaemia (< 8.0 g/dL)", plain: "much lower than normal", source: WHO_HB },
      { atLeast: 8, below: 13, gender: "male", indicator: "warning", label: "anaemia (< 13.0 g/dL)", plain: "lower than normal", source: WHO_HB },
      { atLeast: 8, below: 12, gender: "female", indicator: "warning", label: "anaemia (< 12.0 g/dL)", plain: "lower than normal", source: WHO_HB },
    ],
    trend: { direction: "fall", absolute: 2, label: "fell by 2 g/dL or more", source: ISTH },
  },
];
