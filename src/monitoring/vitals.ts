/**
 * The vital signs a monitoring device may send: for each, its LOINC code, the UCUM unit it is
 * stored in, and the range a living patient's measurement can fall in (wider than any normal
 * range: a value outside it is a device fault or a forged reading, never a deterioration).
 * LOINC codes follow the FHIR R4 vital-signs profile where it names one
 * (https://hl7.org/fhir/R4/observation-vitalsigns.html).
 */
import type { Category } from "../model/vocabulary.js";
import type { Acvpu } from "./news2.js";

export const VITAL_KINDS = [
  "heart-rate",
  "spo2",
  "systolic",
  "diastolic",
  "temperature",
  "respiratory-rate",
  "glucose",
  "oxygen-flow",
  "acvpu",
] as const;
export type VitalKind = (typeof VITAL_KINDS)[number];

/** A measured quantity kind (all but ACVPU). */
export type QuantityKind = Exclude<VitalKind, "acvpu">;

export interface VitalDefinition {
  loinc: string;
  display: string;
  /** The UCUM unit the reading is stored and shown in. */
  unit: string;
  /** Inclusive plausible range in `unit`. */
  min: number;
  max: number;
  /** FHIR Observation category (http://terminology.hl7.org/CodeSystem/observation-category). */
  observationCategory: "vital-signs" | "laboratory";
  /** For mass <-> substance conversions (g/mol). */
  molecularWeight?: number;
}

export const VITALS: Record<QuantityKind, VitalDefinition> = {
  "heart-rate": {
    loinc: "8867-4",
    display: "Heart rate",
    unit: "/min",
    min: 20,
    max: 300,
    observationCategory: "vital-signs",
  },
  spo2: {
    loinc: "59408-5",
    display: "Oxygen saturation in Arterial blood by Pulse oximetry",
    unit: "%",
    min: 50,
    max: 100,
    observationCategory: "vital-signs",
  },
  systolic: {
    loinc: "8480-6",
    display: "Systolic blood pressure",
    unit: "mm[Hg]",
    min: 40,
    max: 300,
    observationCategory: "vital-signs",
  },
  diastolic: {
    loinc: "8462-4",
    display: "Diastolic blood pressure",
    unit: "mm[Hg]",
    min: 15,
    max: 200,
    observationCategory: "vital-signs",
  },
  temperature: {
    loinc: "8310-5",
    display: "Body temperature",
    unit: "Cel",
    min: 25,
    max: 45,
    observationCategory: "vital-signs",
  },
  "respiratory-rate": {
    loinc: "9279-1",
    display: "Respiratory rate",
    unit: "/min",
    min: 1,
    max: 80,
    observationCategory: "vital-signs",
  },
  glucose: {
    loinc: "15074-8",
    display: "Glucose [Moles/volume] in Blood",
    unit: "mmol/L",
    min: 0.5,
    max: 60,
    observationCategory: "laboratory",
    molecularWeight: 180.156,
  },
  "oxygen-flow": {
    loinc: "3151-8",
    display: "Inhaled oxygen flow rate",
    unit: "L/min",
    min: 0,
    max: 70,
    observationCategory: "vital-signs",
  },
};

/** ACVPU as a LOINC-coded observation (level of responsiveness) with the scale's letters as values. */
export const ACVPU_LOINC = "67775-7";
export const ACVPU_DISPLAY = "Level of responsiveness";
export const ACVPU_SYSTEM = "https://carechain.example/fhir/CodeSystem/acvpu";
export const ACVPU_NAMES: Record<Acvpu, string> = {
  A: "Alert",
  C: "New confusion",
  V: "Responds to voice",
  P: "Responds to pain",
  U: "Unresponsive",
};

/**
 * The NEWS2 aggregate's Observation code: a code of this node's own system (no LOINC code for it was
 * verified here); the Observation also carries the text, so a reader needs no lookup.
 */
export const NEWS2_SYSTEM = "https://carechain.example/fhir/CodeSystem/monitoring";
export const NEWS2_CODE = "news2";
export const NEWS2_DISPLAY = "National Early Warning Score 2 (RCP 2017), aggregate";

/** LOINC code → vital kind, for search by code. */
export const KIND_BY_LOINC: ReadonlyMap<string, VitalKind> = new Map<string, VitalKind>([
  ...(Object.entries(VITALS) as [QuantityKind, VitalDefinition][]).map(([k, d]) => [d.loinc, k] as const),
  [ACVPU_LOINC, "acvpu"],
]);

/**
 * The consent categories of a device reading, of a score and of an alert derived from them: what
 * the records layer gives an Observation of a vital sign with a `device` (src/records/categorize.ts).
 * Both are ordinary categories, so a grant of either lets its grantee see them (the consent gate's
 * rule for a record's facets, src/consent/consentGate.ts).
 */
export const READING_CATEGORIES: readonly Category[] = ["vitals", "device-readings"];
/** The consent category of a FHIR Device (src/records/categorize.ts). */
export const DEVICE_CATEGORIES: readonly Category[] = ["device-readings"];
