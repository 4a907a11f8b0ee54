/**
 * Per-device admission: a token bucket for batches and one for readings per device, so a device
 * that floods is refused cheaply (before its signature is checked) while every other device keeps
 * its own budget; and the count of every refusal per device and reason, which the device's
 * owners and care team can read (`GET /monitoring/devices/:id`).
 */

export interface DeviceLimitOptions {
  /** Batches per second a device may sustain (default 20) and burst (default 4 s worth). */
  batchesPerSecond?: number;
  /** Readings per second a device may sustain (default 2000) and burst (default 4 s worth). */
  readingsPerSecond?: number;
  burstSeconds?: number;
  now?: () => number;
}

interface Bucket {
  batches: number;
  readings: number;
  at: number;
}

/** Most devices tracked; past it the idlest half is forgotten (a forgotten device starts full). */
const MAX_DEVICES = 200_000;

export class DeviceLimits {
  readonly #batchRate: number;
  readonly #readingRate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: DeviceLimitOptions = {}) {
    this.#batchRate = options.batchesPerSecond ?? 20;
    this.#readingRate = options.readingsPerSecond ?? 2000;
    this.#burst = options.burstSeconds ?? 4;
    this.#now = options.now ?? Date.now;
  }

  #bucket(device: string): Bucket {
    const now = this.#now();
    let b = this.#buckets.get(device);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_DEVICES) this.#forgetIdle();
      b = { batches: this.#batchRate * this.#burst, readings: this.#readingRate * this.#burst, at: now };
      this.#buckets.set(device, b);
      return b;
    }
    const dt = Math.max(0, now - b.at) / 1000;
    b.batches = Math.min(this.#batchRate * this.#burst, b.batches + dt * this.#batchRate);
    b.readings = Math.min(this.#readingRate * this.#burst, b.readings + dt * this.#readingRate);
    b.at = now;
    return b;
  }

  /** Takes one batch from the device's budget; false when it has none left. */
  takeBatch(device: string): boolean {
    const b = this.#bucket(device);
    if (b.batches < 1) return false;
    b.batches -= 1;
    return true;
  }

  /** Takes `n` readings from the device's budget; false (and nothing taken) when it has too few. */
  takeReadings(device: string, n: number): boolean {
    const b = this.#bucket(device);
    if (b.readings < n) return false;
    b.readings -= n;
    return true;
  }

  #forgetIdle(): void {
    const byAge = [...this.#buckets.entries()].sort((a, b) => a[1].at - b[1].at);
    for (const [device] of byAge.slice(0, byAge.length / 2)) this.#buckets.delete(device);
  }
}

/** Why a batch or a reading was refused: the names a device and its care team see. */
export type RefusalReason =
  | "malformed"
  | "unknown-device"
  | "bad-signature"
  | "device-revoked"
  | "device-mismatch"
  | "sent-at-out-of-bounds"
  | "rate-limited"
  | "unit-missing"
  | "unit-not-convertible"
  | "value-type"
  | "out-of-range"
  | "in-the-future"
  | "too-old";

/** Refusals counted per device and reason (in this process, since it started). */
export class RefusalCounts {
  readonly #counts = new Map<string, Map<RefusalReason, number>>();

  add(device: string, reason: RefusalReason, n = 1): void {
    let m = this.#counts.get(device);
    if (m === undefined) {
      // an unknown device id is counted under one name: a flood of made-up ids grows nothing
      if (this.#counts.size >= MAX_DEVICES) return;
      this.#counts.set(device, (m = new Map()));
    }
    m.set(reason, (m.get(reason) ?? 0) + n);
  }

  of(device: string): Partial<Record<RefusalReason, number>> {
    return Object.fromEntries(this.#counts.get(device) ?? []);
  }
}
