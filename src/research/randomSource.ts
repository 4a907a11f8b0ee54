/**
 * Where differential-privacy noise gets its randomness: uniform integers drawn exactly (rejection
 * sampling over whole bytes, BigInt arithmetic), never `Math.random` or floating point. The node
 * uses the operating system's CSPRNG; tests use a seeded deterministic generator (SHA-256 in
 * counter mode) so a statistical test gives the same verdict on every run.
 */
import { createHash, randomBytes } from "node:crypto";

export interface RandomSource {
  /** `n` uniformly random bytes. */
  bytes(n: number): Uint8Array;
}

/** The operating system's CSPRNG. */
export const systemRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/**
 * A deterministic source for tests: SHA-256(seed || counter) blocks.
 * @param seed - Any string; the same seed gives the same stream.
 */
export function seededRandom(seed: string): RandomSource {
  let counter = 0n;
  let pool = new Uint8Array(0);
  return {
    bytes(n) {
      while (pool.length < n) {
        const block = createHash("sha256").update(seed).update(counter.toString()).digest();
        counter += 1n;
        const next = new Uint8Array(pool.length + block.length);
        next.set(pool);
        next.set(block, pool.length);
        pool = next;
      }
      const out = pool.slice(0, n);
      pool = pool.slice(n);
      return out;
    },
  };
}

/**
 * A uniform integer in [0, n), exactly (rejection sampling: no modulo bias).
 * @param rng - The source.
 * @param n - A positive bound.
 */
export function uniformBelow(rng: RandomSource, n: bigint): bigint {
  if (n <= 0n) throw new RangeError("uniformBelow needs a positive bound");
  if (n === 1n) return 0n;
  const bits = (n - 1n).toString(2).length;
  const byteCount = Math.ceil(bits / 8);
  const excess = BigInt(byteCount * 8 - bits);
  for (;;) {
    let x = 0n;
    for (const b of rng.bytes(byteCount)) x = (x << 8n) | BigInt(b);
    x >>= excess;
    if (x < n) return x;
  }
}
