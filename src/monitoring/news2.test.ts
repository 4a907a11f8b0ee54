import { describe, expect, it } from "vitest";
import {
  news2,
  news2Risk,
  scoreConsciousness,
  scoreOxygen,
  scorePulse,
  scoreRespiratoryRate,
  scoreSpo2,
  scoreSystolic,
  scoreTemperature,
  type Acvpu,
  type News2Input,
} from "./news2.js";

/**
 * An independent reading of RCP "Chart 1: The NEWS scoring system" (2017): each row as the chart
 * prints it, a list of [score, lowest, highest] with inclusive bounds (Infinity at the open ends).
 * Written from the chart, not from news2.ts: a row is looked up, never computed with comparisons.
 */
type Row = ReadonlyArray<readonly [score: number, lo: number, hi: number]>;
const CHART: Record<string, Row> = {
  respiration: [
    [3, -Infinity, 8],
    [1, 9, 11],
    [0, 12, 20],
    [2, 21, 24],
    [3, 25, Infinity],
  ],
  spo2Scale1: [
    [3, -Infinity, 91],
    [2, 92, 93],
    [1, 94, 95],
    [0, 96, Infinity],
  ],
  spo2Scale2Air: [
    [3, -Infinity, 83],
    [2, 84, 85],
    [1, 86, 87],
    [0, 88, 92],
    [0, 93, Infinity], // "≥93 on air"
  ],
  spo2Scale2Oxygen: [
    [3, -Infinity, 83],
    [2, 84, 85],
    [1, 86, 87],
    [0, 88, 92],
    [1, 93, 94],
    [2, 95, 96],
    [3, 97, Infinity],
  ],
  systolic: [
    [3, -Infinity, 90],
    [2, 91, 100],
    [1, 101, 110],
    [0, 111, 219],
    [3, 220, Infinity],
  ],
  pulse: [
    [3, -Infinity, 40],
    [1, 41, 50],
    [0, 51, 90],
    [1, 91, 110],
    [2, 111, 130],
    [3, 131, Infinity],
  ],
  temperatureTenths: [
    [3, -Infinity, 350],
    [1, 351, 360],
    [0, 361, 380],
    [1, 381, 390],
    [2, 391, Infinity],
  ],
};

function chartScore(row: Row, value: number): number {
  const hit = row.find(([, lo, hi]) => value >= lo && value <= hi);
  if (hit === undefined) throw new Error("the chart has a gap");
  return hit[0];
}

/** Every band's edges and one value beyond each edge, over the row's printed range. */
function boundaryValues(row: Row): number[] {
  const values = new Set<number>();
  for (const [, lo, hi] of row) {
    for (const v of [lo - 1, lo, lo + 1, hi - 1, hi, hi + 1]) if (Number.isFinite(v)) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

describe("NEWS2 parameter bands, against the chart", () => {
  it("respiration rate: every edge", () => {
    for (const v of boundaryValues(CHART.respiration!)) {
      expect([v, scoreRespiratoryRate(v)]).toEqual([v, chartScore(CHART.respiration!, v)]);
    }
    // the chart's printed edges, pinned
    expect([8, 9, 11, 12, 20, 21, 24, 25].map(scoreRespiratoryRate)).toEqual([3, 1, 1, 0, 0, 2, 2, 3]);
  });

  it("SpO2 scale 1: every edge, oxygen or not", () => {
    for (const v of boundaryValues(CHART.spo2Scale1!)) {
      expect([v, scoreSpo2(v, false, 1)]).toEqual([v, chartScore(CHART.spo2Scale1!, v)]);
      expect([v, scoreSpo2(v, true, 1)]).toEqual([v, chartScore(CHART.spo2Scale1!, v)]);
    }
    expect([91, 92, 93, 94, 95, 96].map((v) => scoreSpo2(v, false, 1))).toEqual([3, 2, 2, 1, 1, 0]);
  });

  it("SpO2 scale 2: on air and on oxygen, every edge", () => {
    for (const v of boundaryValues(CHART.spo2Scale2Oxygen!)) {
      expect([v, "air", scoreSpo2(v, false, 2)]).toEqual([v, "air", chartScore(CHART.spo2Scale2Air!, v)]);
      expect([v, "o2", scoreSpo2(v, true, 2)]).toEqual([v, "o2", chartScore(CHART.spo2Scale2Oxygen!, v)]);
    }
    expect([83, 84, 85, 86, 87, 88, 92].map((v) => scoreSpo2(v, true, 2))).toEqual([3, 2, 2, 1, 1, 0, 0]);
    expect([93, 94, 95, 96, 97, 100].map((v) => scoreSpo2(v, true, 2))).toEqual([1, 1, 2, 2, 3, 3]);
    expect([93, 97, 100].map((v) => scoreSpo2(v, false, 2))).toEqual([0, 0, 0]);
  });

  it("air or oxygen", () => {
    expect(scoreOxygen(true)).toBe(2);
    expect(scoreOxygen(false)).toBe(0);
  });

  it("systolic blood pressure: every edge", () => {
    for (const v of boundaryValues(CHART.systolic!)) {
      expect([v, scoreSystolic(v)]).toEqual([v, chartScore(CHART.systolic!, v)]);
    }
    expect([90, 91, 100, 101, 110, 111, 219, 220].map(scoreSystolic)).toEqual([3, 2, 2, 1, 1, 0, 0, 3]);
  });

  it("pulse: every edge", () => {
    for (const v of boundaryValues(CHART.pulse!)) {
      expect([v, scorePulse(v)]).toEqual([v, chartScore(CHART.pulse!, v)]);
    }
    expect([40, 41, 50, 51, 90, 91, 110, 111, 130, 131].map(scorePulse)).toEqual([
      3, 1, 1, 0, 0, 1, 1, 2, 2, 3,
    ]);
  });

  it("consciousness: Alert scores 0, any of CVPU 3", () => {
    const levels: Acvpu[] = ["A", "C", "V", "P", "U"];
    expect(levels.map(scoreConsciousness)).toEqual([0, 3, 3, 3, 3]);
  });

  it("temperature: every edge, in tenths of a degree", () => {
    for (const t of boundaryValues(CHART.temperatureTenths!)) {
      expect([t, scoreTemperature(t / 10)]).toEqual([t, chartScore(CHART.temperatureTenths!, t)]);
    }
    expect([35.0, 35.1, 36.0, 36.1, 38.0, 38.1, 39.0, 39.1].map(scoreTemperature)).toEqual([
      3, 1, 1, 0, 0, 1, 1, 2,
    ]);
  });

  it("rounds a measured value to the chart's precision before banding", () => {
    expect(scoreRespiratoryRate(20.4)).toBe(0);
    expect(scoreRespiratoryRate(20.5)).toBe(2);
    expect(scoreTemperature(38.04)).toBe(0);
    expect(scoreTemperature(38.05)).toBe(1);
    expect(scorePulse(90.49)).toBe(0);
  });
});

describe("NEWS2 aggregate", () => {
  const normal: News2Input = {
    respiratoryRate: 16,
    spo2: 97,
    onOxygen: false,
    systolic: 120,
    pulse: 70,
    consciousness: "A",
    temperature: 37,
  };

  it("a normal set scores 0, low", () => {
    expect(news2(normal)).toMatchObject({ total: 0, risk: "low" });
  });

  it("risk bands: 0-4 low, a single 3 low-medium, 5-6 medium, 7+ high", () => {
    expect(news2Risk(4, false)).toBe("low");
    expect(news2Risk(3, true)).toBe("low-medium");
    expect(news2Risk(4, true)).toBe("low-medium");
    expect(news2Risk(5, false)).toBe("medium");
    expect(news2Risk(6, true)).toBe("medium");
    expect(news2Risk(7, false)).toBe("high");
    expect(news2Risk(20, true)).toBe("high");
  });

  it("agrees with the chart over many random sets, both scales", () => {
    let seed = 7;
    const rand = (lo: number, hi: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return lo + (seed % (hi - lo + 1));
    };
    for (let i = 0; i < 5000; i++) {
      const input: News2Input = {
        respiratoryRate: rand(4, 40),
        spo2: rand(70, 100),
        onOxygen: rand(0, 1) === 1,
        systolic: rand(60, 260),
        pulse: rand(25, 180),
        consciousness: (["A", "A", "A", "C", "V", "P", "U"] as const)[rand(0, 6)]!,
        temperature: rand(330, 420) / 10,
      };
      const scale = rand(1, 2) as 1 | 2;
      const spo2Row =
        scale === 1 ? CHART.spo2Scale1! : input.onOxygen ? CHART.spo2Scale2Oxygen! : CHART.spo2Scale2Air!;
      const parts = [
        chartScore(CHART.respiration!, input.respiratoryRate),
        chartScore(spo2Row, input.spo2),
        input.onOxygen ? 2 : 0,
        chartScore(CHART.systolic!, input.systolic),
        chartScore(CHART.pulse!, input.pulse),
        input.consciousness === "A" ? 0 : 3,
        chartScore(CHART.temperatureTenths!, Math.round(input.temperature * 10)),
      ];
      const total = parts.reduce((a, b) => a + b, 0);
      const risk = total >= 7 ? "high" : total >= 5 ? "medium" : parts.includes(3) ? "low-medium" : "low";
      const got = news2(input, scale);
      expect({ total: got.total, risk: got.risk }).toEqual({ total, risk });
    }
  });

  it("a worked example: RR 24, SpO2 93 on oxygen (scale 2), SBP 105, HR 115, Alert, 38.5 °C", () => {
    const got = news2(
      {
        respiratoryRate: 24,
        spo2: 93,
        onOxygen: true,
        systolic: 105,
        pulse: 115,
        consciousness: "A",
        temperature: 38.5,
      },
      2,
    );
    expect(got.parts).toEqual({
      respiratoryRate: 2,
      spo2: 1,
      onOxygen: 2,
      systolic: 1,
      pulse: 2,
      consciousness: 0,
      temperature: 1,
    });
    expect(got).toMatchObject({ total: 9, risk: "high", scale: 2 });
  });
});
