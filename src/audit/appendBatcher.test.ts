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

  it("runs up to `concurrency` writes once enough waits, and flush waits for every earlier batch", async () => {
    const gates: Array<() => void> = [];
    const started: number[][] = [];
    let next = 0;
    const write = (items: number[]): Promise<number> => {
      started.push(items);
      const first = next;
      next += items.length;
      return new Promise((resolve) => gates.push(() => resolve(first)));
    };
    const batcher = new AppendBatcher(write, { maxBatch: 4, concurrency: 2, concurrentFrom: 3 });
    const first = batcher.push(0);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([[0]]);
    // Two items waiting: fewer than concurrentFrom, so they wait for the write in flight.
    const small = [batcher.push(1), batcher.push(2)];
    await new Promise((r) => setImmediate(r));
    expect(started.length).toBe(1);
    // A third: a second write starts beside the first, and no third one.
    const more = [batcher.push(3), ...Array.from({ length: 5 }, (_, i) => batcher.push(4 + i))];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([[0], [1, 2, 3, 4]]);
    // The second write finishes first: a flush still waits for the first.
    let flushed = false;
    const flush = batcher.flush().then(() => (flushed = true));
    gates[1]!();
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    gates[0]!();
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    // The rest goes out after the first settled, and the flush ends with it.
    while (gates.length < started.length || started.flat().length < 9)
      await new Promise((r) => setImmediate(r));
    for (let i = 2; i < gates.length; i++) gates[i]!();
    await flush;
    expect(await Promise.all([first, ...small, ...more])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
