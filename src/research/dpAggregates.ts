/**
 * Differentially private aggregates over a cohort, each with its noise scale and a 95 % error
 * bound, from exact discrete Laplace noise (discreteNoise.ts). One person contributes one record
 * (add/remove-one neighbouring cohorts):
 * - count: sensitivity 1;
 * - sum of integer values clamped to [lo, hi]: sensitivity max(|lo|, |hi|);
 * - mean: a noisy sum over a noisy count, the budget split in half between them;
 * - histogram: each person falls in one bin, so every bin gets noise of sensitivity 1 for ε
 *   (parallel composition).
 * Values are integers (the study states the unit: mg/dL, whole years, mmHg): an integer query
 * keeps the noise exact.
 */
import { BaseError } from "../errors/BaseError.js";
import { discreteLaplace, discreteLaplaceErrorBound, rational } from "./discreteNoise.js";
import type { RandomSource } from "./randomSource.js";

export interface NoisyValue {
  value: number;
  /** Laplace scale b of the noise added (Δ/ε). */
  scale: number;
  /** |noise| is below this with probability 0.95. */
  errorBound95: number;
}

const BETA = 0.05;

function noisy(rng: RandomSource, exact: number, sensitivity: number, epsilon: number): NoisyValue {
  if (!(epsilon > 0)) throw new BaseError("invalid", "epsilon must be positive", { expression: "epsilon" });
  const scale = sensitivity / epsilon;
  const noise = scale === 0 ? 0n : discreteLaplace(rng, rational(scale));
  return { value: exact + Number(noise), scale, errorBound95: discreteLaplaceErrorBound(scale, BETA) };
}

/** ε-DP count. */
export function dpCount(rng: RandomSource, n: number, epsilon: number): NoisyValue {
  return noisy(rng, n, 1, epsilon);
}

/** ε-DP sum of integers clamped to [lo, hi]. */
export function dpSum(
  rng: RandomSource,
  values: readonly number[],
  lo: number,
  hi: number,
  epsilon: number,
): NoisyValue {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi)
    throw new BaseError("invalid", "the bounds must be integers with lo ≤ hi", { expression: "bounds" });
  const exact = values.reduce((a, v) => a + Math.min(hi, Math.max(lo, Math.round(v))), 0);
  return noisy(rng, exact, Math.max(Math.abs(lo), Math.abs(hi)), epsilon);
}

/** ε-DP mean of integers clamped to [lo, hi] (ε/2 for the sum, ε/2 for the count). */
export function dpMean(
  rng: RandomSource,
  values: readonly number[],
  lo: number,
  hi: number,
  epsilon: number,
): { value: number | null; sum: NoisyValue; count: NoisyValue } {
  const sum = dpSum(rng, values, lo, hi, epsilon / 2);
  const count = dpCount(rng, values.length, epsilon / 2);
  const value = count.value > 0 ? Math.min(hi, Math.max(lo, sum.value / count.value)) : null;
  return { value, sum, count };
}

/**
 * ε-DP histogram over fixed bin edges (decided before the data is seen).
 * @param edges - Ascending bin edges; bin i holds edges[i] ≤ v < edges[i+1].
 */
export function dpHistogram(
  rng: RandomSource,
  values: readonly number[],
  edges: readonly number[],
  epsilon: number,
): { from: number; to: number; count: NoisyValue }[] {
  if (edges.length < 2 || edges.some((e, i) => i > 0 && e <= edges[i - 1]!))
    throw new BaseError("invalid", "bin edges must be at least two ascending numbers", {
      expression: "edges",
    });
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const v of values) {
    const i = edges.findIndex((e, j) => j < edges.length - 1 && v >= e && v < edges[j + 1]!);
    if (i >= 0) counts[i]!++;
  }
  return counts.map((c, i) => ({ from: edges[i]!, to: edges[i + 1]!, count: dpCount(rng, c, epsilon) }));
}

/**
 * A study's privacy budget: ε spent by each release, refused beyond the total (basic sequential
 * composition). The spent amounts come from wherever the study keeps them (every node's releases
 * count), so the check is made on the sum, not per node.
 */
export function checkBudget(totalEpsilon: number, spent: readonly number[], asked: number): void {
  if (!(asked > 0)) throw new BaseError("invalid", "epsilon must be positive", { expression: "epsilon" });
  const used = spent.reduce((a, e) => a + e, 0);
  // compare in millionths: ε values are decimals with at most 6 places (rational())
  if (Math.round((used + asked) * 1e6) > Math.round(totalEpsilon * 1e6))
    throw new BaseError(
      "conflict",
      `the study's privacy budget allows ε ${totalEpsilon}; ${round6(used)} is spent, ${round6(asked)} more would exceed it`,
      { code: "business-rule" },
    );
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
