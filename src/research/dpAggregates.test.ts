import { describe, expect, it } from "vitest";
import { checkBudget, dpCount, dpHistogram, dpMean, dpSum } from "./dpAggregates.js";
import { seededRandom } from "./randomSource.js";

describe("differentially private aggregates", () => {
  it("a count's noise stays within its stated 95 % bound about 95 % of the time", () => {
    const rng = seededRandom("count");
    const runs = 4000;
    let within = 0;
    let bound = 0;
    for (let i = 0; i < runs; i++) {
      const c = dpCount(rng, 120, 0.5);
      bound = c.errorBound95;
      if (Math.abs(c.value - 120) < c.errorBound95) within++;
    }
    expect(bound).toBeGreaterThan(1);
    expect(within / runs).toBeGreaterThanOrEqual(0.95 - 4.5 * Math.sqrt((0.95 * 0.05) / runs));
  });

  it("clamps sum contributions to the bounds, so one person moves the sum by at most the sensitivity", () => {
    const s = dpSum(seededRandom("sum"), [10, 2000, -50], 0, 300, 1);
    expect(s.scale).toBe(300);
    expect(Math.abs(s.value - 310)).toBeLessThan(300 * 20);
  });

  it("a mean splits ε between sum and count and stays within the bounds", () => {
    const m = dpMean(seededRandom("mean"), [100, 120, 140], 0, 300, 1);
    expect(m.sum.scale).toBe(600);
    expect(m.count.scale).toBe(2);
    if (m.value !== null) expect(m.value).toBeGreaterThanOrEqual(0);
    if (m.value !== null) expect(m.value).toBeLessThanOrEqual(300);
  });

  it("a histogram gives every bin noise of sensitivity 1 for the whole ε (parallel composition)", () => {
    const h = dpHistogram(seededRandom("hist"), [1, 5, 5, 9, 12], [0, 4, 8, 12], 1);
    expect(h.map((b) => [b.from, b.to, b.count.scale])).toEqual([
      [0, 4, 1],
      [4, 8, 1],
      [8, 12, 1],
    ]);
    expect(() => dpHistogram(seededRandom("x"), [1], [3, 1], 1)).toThrow(/ascending/);
  });

  it("refuses the query that would exceed the study's ε, counting every node's releases", () => {
    expect(() => checkBudget(1, [0.3, 0.3], 0.4)).not.toThrow();
    expect(() => checkBudget(1, [0.3, 0.3], 0.41)).toThrow(
      /privacy budget allows ε 1; 0.6 is spent, 0.41 more would exceed it/,
    );
    expect(() => checkBudget(1, [0.1, 0.2, 0.3, 0.4], 0.000001)).toThrow(/exceed/);
    expect(() => checkBudget(1, [], 0)).toThrow(/positive/);
  });
});
