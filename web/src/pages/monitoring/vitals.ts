/** What the monitoring pages read from the node, and the words and units they show it in. */

/** One vital over the window: times (ms) and values in its stored UCUM unit. */
export interface Series {
  unit: string;
  t: number[];
  v: number[];
}

export type QuantityKind =
  | "heart-rate"
  | "spo2"
  | "systolic"
  | "diastolic"
  | "temperature"
  | "respiratory-rate"
  | "glucose"
  | "oxygen-flow";

export type Risk = "low" | "low-medium" | "medium" | "high";

/** `GET /monitoring/patients/:id/vitals` and each patient of `GET /monitoring/ward`. */
export interface VitalsView {
  patient: string;
  from: string;
  to: string;
  vitals: Partial<Record<QuantityKind, Series>>;
  news2: { t: number[]; v: number[] };
  latest: {
    news2: { total: number; risk: Risk; at: string } | null;
    acvpu: { value: "A" | "C" | "V" | "P" | "U"; at: string } | null;
    readingAt: string | null;
  };
}

export interface WardPatient extends VitalsView {
  openAlerts: number;
}

export type AlertTrigger =
  | { rule: "news2-high" | "news2-medium"; total: number }
  | { rule: "news2-single-3"; parameter: string }
  | { rule: "threshold"; index: number; kind: QuantityKind; breach: "above" | "below" | "rise" };

export interface AlertView {
  id: string;
  patient: string;
  createdAt: string;
  triggers: AlertTrigger[];
  news2?: { total: number; risk: Risk; observation: string };
  step: number;
  acknowledged: { at: string; by: string } | null;
}

/** Each vital's name, the unit people read, and the range its chart shows at least. */
export const VITAL_LABELS: Record<QuantityKind, { name: string; unit: string; range: [number, number] }> = {
  "heart-rate": { name: "Heart rate", unit: "beats/min", range: [40, 140] },
  "respiratory-rate": { name: "Breathing rate", unit: "breaths/min", range: [5, 30] },
  spo2: { name: "Oxygen saturation (SpO₂)", unit: "%", range: [85, 100] },
  systolic: { name: "Systolic blood pressure", unit: "mmHg", range: [40, 180] },
  diastolic: { name: "Diastolic blood pressure", unit: "mmHg", range: [40, 180] },
  temperature: { name: "Temperature", unit: "°C", range: [35, 40] },
  glucose: { name: "Blood glucose", unit: "mmol/L", range: [3, 12] },
  "oxygen-flow": { name: "Supplemental oxygen", unit: "L/min", range: [0, 5] },
};

export const ACVPU_WORDS: Record<string, string> = {
  A: "alert",
  C: "new confusion",
  V: "responds to voice",
  P: "responds to pain",
  U: "unresponsive",
};

export const RISK_WORDS: Record<Risk, string> = {
  low: "low risk",
  "low-medium": "low-medium risk",
  medium: "medium risk",
  high: "high risk",
};

export const riskTone = (risk: Risk | undefined): "ok" | "warn" | "danger" | "neutral" =>
  risk === undefined ? "neutral" : risk === "high" ? "danger" : risk === "low" ? "ok" : "warn";

const PARAMETER_WORDS: Record<string, string> = {
  respiratoryRate: "breathing rate",
  spo2: "oxygen saturation",
  onOxygen: "supplemental oxygen",
  systolic: "systolic blood pressure",
  pulse: "heart rate",
  consciousness: "consciousness",
  temperature: "temperature",
};

/** A trigger in words a ward nurse reads at a glance. */
export function triggerText(t: AlertTrigger): string {
  switch (t.rule) {
    case "news2-high":
      return `NEWS2 ${t.total}: high`;
    case "news2-medium":
      return `NEWS2 ${t.total}: medium`;
    case "news2-single-3":
      return `${PARAMETER_WORDS[t.parameter] ?? t.parameter} scores 3`;
    case "threshold": {
      const name = VITAL_LABELS[t.kind].name.toLowerCase();
      return t.breach === "rise" ? `${name} rising` : `${name} ${t.breach} the set limit`;
    }
  }
}

/** The last value of a series, rounded for reading. */
export function lastValue(s: Series | { t: number[]; v: number[] } | undefined): number | undefined {
  if (s === undefined || s.v.length === 0) return undefined;
  const v = s.v[s.v.length - 1] as number;
  return Math.round(v * 10) / 10;
}
