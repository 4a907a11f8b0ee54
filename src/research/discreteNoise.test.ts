import { describe, expect, it } from "vitest";
import {
  bernoulliExpNeg,
  discreteGaussian,
  discreteLaplace,
  discreteLaplaceErrorBound,
  rational,
} from "./discreteNoise.js";
import { seededRandom, uniformBelow } from "./randomSource.js";

/** Chi-square statistic of observed counts against expected probabilities (bins with expected < 5 pooled). */
function chiSquare(observed: Map<number, number>, pmf: (x: number) => number, total: number, span: number) {
  let stat = 0;
  let bins = 0;
  let restObserved = total;
  let restExpected = total;
  for (let x = -span; x <= span; x++) {
    const expected = pmf(x) * total;
    const seen = observed.get(x) ?? 0;
    if (expected < 5) continue;
    stat += (seen - expected) ** 2 / expected;
    restObserved -= seen;
    restExpected -= expected;
    bins++;
  }
  if (restExpected >= 5) {
    stat += (restObserved - restExpected) ** 2 / restExpected;
    bins++;
  }
  return { stat, df: bins - 1 };
}

/** Upper critical value of chi-square(df) at p = 0.001 (Wilson-Hilferty). */
function critical(df: number): number {
  const z = 3.09;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

const histogram = (samples: bigint[]) => {
  const m = new Map<number, number>();
  for (const s of samples) m.set(Number(s), (m.get(Number(s)) ?? 0) + 1);
  return m;
};

describe("exact discrete noise (Canonne, Kamath, Steinke 2020)", () => {
  it("draws uniform integers without modulo bias", () => {
    const rng = seededRandom("uniform");
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[Number(uniformBelow(rng, 3n))]!++;
    const { stat } = chiSquare(
      new Map(counts.map((c, i) => [i, c])),
      (x) => (x >= 0 && x < 3 ? 1 / 3 : 0),
      30_000,
      3,
    );
    expect(stat).toBeLessThan(critical(2));
  });

  it("Bernoulli(exp(-γ)) has mean exp(-γ), also for γ > 1", () => {
    const rng = seededRandom("bernoulli");
    for (const [n, d] of [
      [1n, 2n],
      [3n, 2n],
    ] as const) {
      let ones = 0;
      const N = 40_000;
      for (let i = 0; i < N; i++) if (bernoulliExpNeg(rng, n, d)) ones++;
      const p = Math.exp(-Number(n) / Number(d));
      // 4.5 standard deviations
      expect(Math.abs(ones / N - p)).toBeLessThan(4.5 * Math.sqrt((p * (1 - p)) / N));
    }
  });

  it("discrete Laplace matches its distribution (chi-square, fixed seed), and the error bound holds", () => {
    for (const b of [0.5, 2, 10]) {
      const rng = seededRandom(`laplace-${b}`);
      const N = 20_000;
      const samples = Array.from({ length: N }, () => discreteLaplace(rng, rational(b)));
      const alpha = Math.exp(-1 / b);
      const pmf = (x: number) => ((1 - alpha) / (1 + alpha)) * alpha ** Math.abs(x);
      const { stat, df } = chiSquare(histogram(samples), pmf, N, Math.ceil(b * 12));
      expect(stat, `b=${b}`).toBeLessThan(critical(df));
      // symmetric, mean 0
      const mean = samples.reduce((a, s) => a + Number(s), 0) / N;
      const variance = (2 * alpha) / (1 - alpha) ** 2;
      expect(Math.abs(mean)).toBeLessThan(4.5 * Math.sqrt(variance / N));
      // P(|X| >= k) <= beta for the stated bound
      const beta = 0.05;
      const k = discreteLaplaceErrorBound(b, beta);
      const beyond = samples.filter((s) => Math.abs(Number(s)) >= k).length / N;
      expect(beyond).toBeLessThanOrEqual(beta + 4.5 * Math.sqrt((beta * (1 - beta)) / N));
      // and the bound is tight: one less fails it
      if (k > 1) expect((2 * alpha ** (k - 1)) / (1 + alpha)).toBeGreaterThan(beta);
    }
  });

  it("a wrong scale is caught by the same test (the test can fail)", () => {
    const rng = seededRandom("laplace-wrong");
    const N = 20_000;
    const samples = Array.from({ length: N }, () => discreteLaplace(rng, rational(3)));
    const alpha = Math.exp(-1 / 2);
    const pmf = (x: number) => ((1 - alpha) / (1 + alpha)) * alpha ** Math.abs(x);
    const { stat, df } = chiSquare(histogram(samples), pmf, N, 24);
    expect(stat).toBeGreaterThan(critical(df));
  });

  it("discrete Gaussian matches its distribution (chi-square, fixed seed)", () => {
    for (const sigma of [1, 4]) {
      const rng = seededRandom(`gauss-${sigma}`);
      const N = 20_000;
      const samples = Array.from({ length: N }, () => discreteGaussian(rng, rational(sigma * sigma)));
      let z = 0;
      for (let x = -20 * sigma; x <= 20 * sigma; x++) z += Math.exp(-(x * x) / (2 * sigma * sigma));
      const pmf = (x: number) => Math.exp(-(x * x) / (2 * sigma * sigma)) / z;
      const { stat, df } = chiSquare(histogram(samples), pmf, N, 8 * sigma);
      expect(stat, `sigma=${sigma}`).toBeLessThan(critical(df));
    }
  });

  it("is the same stream for the same seed (the statistical verdicts above are reproducible)", () => {
    const a = Array.from({ length: 50 }, (_, i) => discreteLaplace(seededRandom(`s${i}`), rational(2)));
    const b = Array.from({ length: 50 }, (_, i) => discreteLaplace(seededRandom(`s${i}`), rational(2)));
    expect(a).toEqual(b);
  });
});
