import { describe, expect, it } from "vitest";
import { AppendBatcher } from "./appendBatcher.js";

function recorder(fail?: (items: number[]) => boolean) {
  const batches: number[][] = [];
  let next = 0;
  const write = async (items: number[]): Promise<number> => {
    await new Promise((r) => setTimeout(r, 5));
    if (fail?.(items)) throw new Error("write failed");
    batches.push(items);
    const first = next;
    next += items.length;
    return first;
  };
  return { batches, write };
}

describe("AppendBatcher", () => {
  it("groups concurrent pushes into one write and resolves each with its index", async () => {
    const { batches, write } = recorder();
    const batcher = new AppendBatcher(write);
    const indices = await Promise.all([10, 11, 12, 13].map((x) => batcher.push(x)));
    expect(indices).toEqual([0, 1, 2, 3]);
    expect(batches).toEqual([[10, 11, 12, 13]]);
  });

  it("caps batches at maxBatch and keeps order across batches", async () => {
    const { batches, write } = recorder();
    const batcher = new AppendBatcher(write, { maxBatch: 3 });
    const indices = await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.push(i)));
    expect(indices).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(batches.map((b) => b.length).every((n) => n <= 3)).toBe(true);
    expect(batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("rejects only the failed batch, and flush waits for everything", async () => {
    const { batches, write } = recorder((items) => items.includes(99));
    const batcher = new AppendBatcher(write);
    const failed = batcher.push(99);
    await expect(failed).rejects.toThrow("write failed");
    const ok = batcher.push(1);
    await batcher.flush();
    expect(batcher.queued).toBe(0);
    await expect(ok).resolves.toBe(0);
    expect(batches).toEqual([[1]]);
  });
});
