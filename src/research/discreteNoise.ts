/**
 * Noise for differentially private aggregates that is exact on a computer: the discrete Laplace
 * and discrete Gaussian samplers of Canonne, Kamath and Steinke, "The Discrete Gaussian for
 * Differential Privacy" (NeurIPS 2020, arXiv:2004.00010), Algorithms 1-3. Every step is an exact
 * Bernoulli trial on rational numbers (BigInt), so the output distribution is exactly the stated
 * one: no floating-point gaps such as those Mironov showed in textbook Laplace ("On Significance of
 * the Least Significant Bits for Differential Privacy", CCS 2012). Integer-valued queries (counts,
 * sums of integers, histogram bins) take this noise directly.
 */
import { uniformBelow, type RandomSource } from "./randomSource.js";

/** A positive rational number n/d. */
export interface Rational {
  n: bigint;
  d: bigint;
}

/**
 * The rational closest to a decimal `x` with at most 6 decimals (ε = 0.1 → 1/10).
 * @param x - A positive finite number.
 */
export function rational(x: number): Rational {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError("a positive finite number is needed");
  const d = 1_000_000n;
  const n = BigInt(Math.round(x * 1_000_000));
  const g = gcd(n, d);
  return { n: n / g, d: d / g };
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Bernoulli(n/d), exactly. */
function bernoulli(rng: RandomSource, n: bigint, d: bigint): boolean {
  return uniformBelow(rng, d) < n;
}

/** Bernoulli(exp(-γ)) for a rational γ = n/d ≥ 0 (Algorithm 1). */
export function bernoulliExpNeg(rng: RandomSource, n: bigint, d: bigint): boolean {
  if (n <= d) {
    let k = 1n;
    while (bernoulli(rng, n, d * k)) k += 1n;
    return k % 2n === 1n;
  }
  for (let i = 0n; i < n / d; i++) if (!bernoulliExpNeg(rng, 1n, 1n)) return false;
  return bernoulliExpNeg(rng, n % d, d);
}

/**
 * One sample of the discrete Laplace distribution with scale t/s: P(x) ∝ exp(-|x|·s/t) (Algorithm 2).
 * @param rng - Randomness.
 * @param scale - The scale b = t/s (for ε-DP of a sensitivity-Δ query, b = Δ/ε).
 */
export function discreteLaplace(rng: RandomSource, scale: Rational): bigint {
  const s = scale.d;
  const t = scale.n;
  for (;;) {
    const u = uniformBelow(rng, t);
    if (!bernoulliExpNeg(rng, u, t)) continue;
    let v = 0n;
    while (bernoulliExpNeg(rng, 1n, 1n)) v += 1n;
    const y = (u + t * v) / s;
    const negative = bernoulli(rng, 1n, 2n);
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

/**
 * One sample of the discrete Gaussian with variance parameter σ²: P(x) ∝ exp(-x²/(2σ²)) (Algorithm 3).
 * @param rng - Randomness.
 * @param sigma2 - σ² as a rational.
 */
export function discreteGaussian(rng: RandomSource, sigma2: Rational): bigint {
  // t = floor(σ) + 1, from the integer square root of σ²
  const t = isqrt(sigma2.n / sigma2.d) + 1n;
  for (;;) {
    const y = discreteLaplace(rng, { n: t, d: 1n });
    const abs = y < 0n ? -y : y;
    // γ = (|y| - σ²/t)² / (2σ²) = (|y|·t·d - n)² / (2·n·d·t²)  with σ² = n/d
    const num = abs * t * sigma2.d - sigma2.n;
    const gn = num * num;
    const gd = 2n * sigma2.n * sigma2.d * t * t;
    if (bernoulliExpNeg(rng, gn, gd)) return y;
  }
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = n;
  let y = (x + 1n) / 2n;
  while (y < x) {
    x = y;
    y = (x + n / x) / 2n;
  }
  return x;
}

/**
 * The smallest k with P(|X| ≥ k) ≤ β for discrete Laplace noise of scale b: with α = exp(-1/b),
 * P(|X| ≥ k) = 2α^k / (1 + α) for k ≥ 1.
 * @param scale - b.
 * @param beta - The failure probability.
 * @returns the error bound k (|noise| < k with probability at least 1 - β)
 */
export function discreteLaplaceErrorBound(scale: number, beta: number): number {
  const alpha = Math.exp(-1 / scale);
  return Math.max(1, Math.ceil(Math.log((beta * (1 + alpha)) / 2) / Math.log(alpha)));
}
