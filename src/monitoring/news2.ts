/**
 * NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017, "Chart 1: The NEWS
 * scoring system"): each of seven physiological parameters scores 0-3 by band, the aggregate is
 * their sum, and the clinical risk follows from the aggregate (0-4 low, a single parameter at 3
 * low-medium, 5-6 medium, 7 or more high).
 * https://www.rcp.ac.uk/improving-care/resources/national-early-warning-score-news-2/
 *
 * The chart's bands are whole numbers (temperature in tenths): a measured value is first rounded to
 * the chart's precision (half away from zero), so 20.4 breaths/min scores as 20 and 38.04 °C as 38.0.
 */

/** Level of consciousness on the ACVPU scale: Alert, new Confusion, Voice, Pain, Unresponsive. */
export type Acvpu = "A" | "C" | "V" | "P" | "U";
export const ACVPU_LEVELS: readonly Acvpu[] = ["A", "C", "V", "P", "U"];

/** The SpO2 scale: 1 for most patients, 2 for those with hypercapnic respiratory failure (target 88-92 %). */
export type Spo2Scale = 1 | 2;

/** One set of observations, in the chart's units. */
export interface News2Input {
  /** Breaths per minute. */
  respiratoryRate: number;
  /** Oxygen saturation, percent. */
  spo2: number;
  /** Whether the patient breathes supplemental oxygen (false: room air). */
  onOxygen: boolean;
  /** Systolic blood pressure, mm Hg. */
  systolic: number;
  /** Pulse, beats per minute. */
  pulse: number;
  consciousness: Acvpu;
  /** Degrees Celsius. */
  temperature: number;
}

export type News2Parameter =
  "respiratoryRate" | "spo2" | "onOxygen" | "systolic" | "pulse" | "consciousness" | "temperature";

export const NEWS2_PARAMETERS: readonly News2Parameter[] = [
  "respiratoryRate",
  "spo2",
  "onOxygen",
  "systolic",
  "pulse",
  "consciousness",
  "temperature",
];

/** Clinical risk by the RCP's thresholds and triggers. */
export type News2Risk = "low" | "low-medium" | "medium" | "high";

export interface News2Score {
  total: number;
  risk: News2Risk;
  /** Each parameter's score (0-3). */
  parts: Record<News2Parameter, number>;
  scale: Spo2Scale;
}

const round = (x: number): number => Math.sign(x) * Math.round(Math.abs(x));
const tenths = (x: number): number => round(x * 10) / 10;

/** Respiration rate (per minute): ≤8 → 3, 9-11 → 1, 12-20 → 0, 21-24 → 2, ≥25 → 3. */
export function scoreRespiratoryRate(perMinute: number): number {
  const v = round(perMinute);
  if (v <= 8) return 3;
  if (v <= 11) return 1;
  if (v <= 20) return 0;
  if (v <= 24) return 2;
  return 3;
}

/**
 * SpO2 (%). Scale 1: ≤91 → 3, 92-93 → 2, 94-95 → 1, ≥96 → 0. Scale 2: ≤83 → 3, 84-85 → 2,
 * 86-87 → 1, 88-92 → 0, and from 93 on air 0, but on oxygen 93-94 → 1, 95-96 → 2, ≥97 → 3.
 */
export function scoreSpo2(percent: number, onOxygen: boolean, scale: Spo2Scale): number {
  const v = round(percent);
  if (scale === 1) {
    if (v <= 91) return 3;
    if (v <= 93) return 2;
    if (v <= 95) return 1;
    return 0;
  }
  if (v <= 83) return 3;
  if (v <= 85) return 2;
  if (v <= 87) return 1;
  if (v <= 92 || !onOxygen) return 0;
  if (v <= 94) return 1;
  if (v <= 96) return 2;
  return 3;
}

/** Air or oxygen: supplemental oxygen → 2, room air → 0. */
export function scoreOxygen(onOxygen: boolean): number {
  return onOxygen ? 2 : 0;
}

/** Systolic blood pressure (mm Hg): ≤90 → 3, 91-100 → 2, 101-110 → 1, 111-219 → 0, ≥220 → 3. */
export function scoreSystolic(mmHg: number): number {
  const v = round(mmHg);
  if (v <= 90) return 3;
  if (v <= 100) return 2;
  if (v <= 110) return 1;
  if (v <= 219) return 0;
  return 3;
}

/** Pulse (per minute): ≤40 → 3, 41-50 → 1, 51-90 → 0, 91-110 → 1, 111-130 → 2, ≥131 → 3. */
export function scorePulse(perMinute: number): number {
  const v = round(perMinute);
  if (v <= 40) return 3;
  if (v <= 50) return 1;
  if (v <= 90) return 0;
  if (v <= 110) return 1;
  if (v <= 130) return 2;
  return 3;
}

/** Consciousness: Alert → 0; new Confusion, Voice, Pain or Unresponsive → 3. */
export function scoreConsciousness(level: Acvpu): number {
  return level === "A" ? 0 : 3;
}

/** Temperature (°C): ≤35.0 → 3, 35.1-36.0 → 1, 36.1-38.0 → 0, 38.1-39.0 → 1, ≥39.1 → 2. */
export function scoreTemperature(celsius: number): number {
  const v = tenths(celsius);
  if (v <= 35.0) return 3;
  if (v <= 36.0) return 1;
  if (v <= 38.0) return 0;
  if (v <= 39.0) return 1;
  return 2;
}

/**
 * The risk an aggregate stands for: 7 or more high, 5-6 medium, otherwise low-medium when any
 * single parameter scores 3 (the RCP's "red score"), else low.
 */
export function news2Risk(total: number, anySingleThree: boolean): News2Risk {
  if (total >= 7) return "high";
  if (total >= 5) return "medium";
  return anySingleThree ? "low-medium" : "low";
}

/**
 * Scores one complete set of observations.
 * @param input - the observations, in the chart's units
 * @param scale - SpO2 scale 2 for patients the care team marks as hypercapnic, else 1
 * @returns every parameter's score, the aggregate and its clinical risk
 */
export function news2(input: News2Input, scale: Spo2Scale = 1): News2Score {
  const parts: Record<News2Parameter, number> = {
    respiratoryRate: scoreRespiratoryRate(input.respiratoryRate),
    spo2: scoreSpo2(input.spo2, input.onOxygen, scale),
    onOxygen: scoreOxygen(input.onOxygen),
    systolic: scoreSystolic(input.systolic),
    pulse: scorePulse(input.pulse),
    consciousness: scoreConsciousness(input.consciousness),
    temperature: scoreTemperature(input.temperature),
  };
  let total = 0;
  let anyThree = false;
  for (const p of NEWS2_PARAMETERS) {
    total += parts[p];
    if (parts[p] === 3) anyThree = true;
  }
  return { total, risk: news2Risk(total, anyThree), parts, scale };
}
