/**
 * Group commit for the audit log: concurrent `push` calls made in the same event-loop turn (or
 * while a write is in flight) are written together by one `write` call, so request handlers do
 * not each pay a database transaction. Up to `concurrency` writes may be in flight (the audit log
 * prepares the next batch while its writing thread writes one); `flush` counts a batch only once
 * every batch before it has settled.
 */

interface Pending<T> {
  item: T;
  resolve(index: number): void;
  reject(error: unknown): void;
}

export interface AppendBatcherOptions {
  /** Most items per write (default 1000). */
  maxBatch?: number;
  /** Wait this long before writing a partial batch; 0 (default) writes on the next turn. */
  delayMs?: number;
  /** Most writes in flight at once (default 1). */
  concurrency?: number;
  /** Items waiting from which a write starts while another is in flight (default 1). */
  concurrentFrom?: number;
}

export class AppendBatcher<T> {
  private pending: Pending<T>[] = [];
  /** Writes in flight, oldest first, with whether each has settled. */
  private running: Array<{ size: number; done: boolean }> = [];
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly delayMs: number;
  private readonly concurrency: number;
  private readonly concurrentFrom: number;
  /** Items pushed, and items whose batch and every batch before it have settled (committed or failed). */
  private pushed = 0;
  private settled = 0;
  private waiters: Array<{ upTo: number; wake: () => void }> = [];

  /**
   * @param write - writes items in order and returns the index of the first one
   * @param options - batch size and delay
   */
  constructor(
    private readonly write: (items: T[]) => Promise<number>,
    options: AppendBatcherOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.delayMs = Math.max(0, options.delayMs ?? 0);
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.concurrentFrom = Math.max(1, options.concurrentFrom ?? 1);
  }

  /** Queues one item; resolves with its index once its batch is committed. */
  push(item: T): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.pushed++;
      if (this.pending.length >= this.maxBatch) this.kick();
      else this.schedule();
    });
  }

  /**
   * Resolves once everything queued so far is written (or has failed). Items queued after the
   * call are not waited for, so a flush finishes under a sustained stream of pushes too.
   */
  flush(): Promise<void> {
    if (this.settled >= this.pushed) return Promise.resolve();
    this.kick();
    const upTo = this.pushed;
    return new Promise((wake) => this.waiters.push({ upTo, wake }));
  }

  /** Items waiting to be written. */
  get queued(): number {
    return this.pending.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.delayMs > 0) setTimeout(this.runScheduled, this.delayMs);
    else setImmediate(this.runScheduled);
  }

  /** Bound once: a closure per batch would be one more allocation. */
  private readonly runScheduled = (): void => {
    this.scheduled = false;
    this.kick();
  };

  private kick(): void {
    if (!this.mayStart()) return;
    const batch = this.pending.splice(0, this.maxBatch);
    const slot = { size: batch.length, done: false };
    this.running.push(slot);
    const written = this.write(batch.map((p) => p.item)).then(
      (first) => batch.forEach((p, i) => p.resolve(first + i)),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
    void written.finally(() => {
      slot.done = true;
      while (this.running[0]?.done === true) this.settled += (this.running.shift() as { size: number }).size;
      if (this.waiters.length > 0) {
        const still: Array<{ upTo: number; wake: () => void }> = [];
        for (const w of this.waiters) {
          if (w.upTo <= this.settled) w.wake();
          else still.push(w);
        }
        this.waiters = still;
      }
      // Yield to the event loop before the next batch: under a sustained stream of pushes that
      // arrive in microtasks, kicking at once would starve timers and I/O (the anchorer, the relayer,
      // HTTP) for as long as the stream lasts. The wait also lets the next batch grow.
      if (this.pending.length > 0) setImmediate(() => this.kick());
    });
    // With room for another write, the next batch starts once this turn's pushes are in.
    if (this.mayStart()) this.schedule();
  }

  /** True when a write may start now: something waits, and nothing is in flight or enough waits to join it. */
  private mayStart(): boolean {
    if (this.pending.length === 0) return false;
    if (this.running.length === 0) return true;
    return this.running.length < this.concurrency && this.pending.length >= this.concurrentFrom;
  }
}
