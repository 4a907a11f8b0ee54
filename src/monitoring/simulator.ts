/**
 * A device simulator for the demo, the CLI (`carechain monitor simulate`), tests and the bench:
 * patients with their own baselines and noise, each with a home kit (one P-256 key) sending every
 * vital of NEWS2 plus diastolic pressure and glucose, signed in batches; a deterioration episode
 * drifts a patient over a few batches towards sepsis-like vitals (fast pulse, fast breathing,
 * falling saturation and pressure, fever, then new confusion). Deterministic for a given seed.
 */
import { batchSigner, type BatchEnvelope, type DeviceReading } from "./batch.js";
import { generateDeviceKey, type DeviceKeyPair } from "./deviceKeys.js";

export interface SimulatorOptions {
  seed?: number;
  /** Batches of deterioration from calm to the worst (4). */
  episodeBatches?: number;
}

interface SimPatient {
  key: DeviceKeyPair;
  sign: (p: Parameters<ReturnType<typeof batchSigner>>[0]) => BatchEnvelope;
  deviceId?: string;
  baseline: { hr: number; spo2: number; rr: number; sbp: number; dbp: number; temp: number; glucose: number };
  /** 0 calm .. 1 worst; rises while deteriorating. */
  progress: number;
  deteriorating: boolean;
  batch: number;
}

/** mulberry32: a small seeded PRNG (https://gist.github.com/tommyettinger/46a874533244883189143505d203312c). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class DeviceSimulator {
  readonly #random: () => number;
  readonly #patients: SimPatient[] = [];
  readonly #episode: number;
  readonly #run = Math.floor(Date.now() % 1e9).toString(36);

  constructor(options: SimulatorOptions = {}) {
    this.#random = prng(options.seed ?? 1);
    this.#episode = options.episodeBatches ?? 4;
  }

  #patient(i: number): SimPatient {
    while (this.#patients.length <= i) {
      const r = this.#random;
      const key = generateDeviceKey();
      this.#patients.push({
        key,
        sign: batchSigner(key.privatePem),
        baseline: {
          hr: 62 + r() * 20,
          spo2: 96 + r() * 3,
          rr: 13 + r() * 5,
          sbp: 115 + r() * 20,
          dbp: 70 + r() * 12,
          temp: 36.4 + r() * 0.7,
          glucose: 4.5 + r() * 1.5,
        },
        progress: 0,
        deteriorating: false,
        batch: 0,
      });
    }
    return this.#patients[i]!;
  }

  /** The key pair of patient `i`'s device (to register its public key). */
  keyOf(i: number): DeviceKeyPair {
    return this.#patient(i).key;
  }

  /** Drives patient `i` with a device key made elsewhere (`monitor device add --out`). */
  useKey(i: number, privatePem: string, deviceId: string): void {
    const p = this.#patient(i);
    p.sign = batchSigner(privatePem);
    p.deviceId = deviceId;
  }

  /** Binds patient `i`'s device to the id the node gave it at registration. */
  attach(i: number, deviceId: string): void {
    this.#patient(i).deviceId = deviceId;
  }

  /** Starts a deterioration episode for patient `i`. */
  deteriorate(i: number): void {
    this.#patient(i).deteriorating = true;
  }

  /** Ends patient `i`'s episode: the vitals return to baseline. */
  recover(i: number): void {
    const p = this.#patient(i);
    p.deteriorating = false;
    p.progress = 0;
  }

  /**
   * Patient `i`'s next signed batch.
   * @param now - device clock, ms
   * @param samples - sets of vitals in the batch, `intervalMs` apart, the last at `now`
   */
  nextBatch(i: number, now: number, samples = 1, intervalMs = 1000): BatchEnvelope {
    const p = this.#patient(i);
    if (p.deviceId === undefined) throw new Error(`simulated device ${i} is not attached`);
    if (p.deteriorating) p.progress = Math.min(1, p.progress + 1 / this.#episode);
    const readings: DeviceReading[] = [];
    for (let s = 0; s < samples; s++) readings.push(...this.#sample(p, now - (samples - 1 - s) * intervalMs));
    p.batch++;
    return p.sign({ device: p.deviceId, batchId: `${this.#run}-${p.batch}`, sentAt: now, readings });
  }

  #sample(p: SimPatient, at: number): DeviceReading[] {
    const r = this.#random;
    const noise = (x: number) => (r() - 0.5) * 2 * x;
    const k = p.progress;
    const b = p.baseline;
    const one = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
    return [
      { kind: "heart-rate", value: one(b.hr + k * 60 + noise(2)), unit: "/min", at },
      { kind: "spo2", value: one(Math.min(100, b.spo2 - k * 9 + noise(0.5))), unit: "%", at },
      { kind: "respiratory-rate", value: one(b.rr + k * 13 + noise(1)), unit: "/min", at },
      { kind: "systolic", value: one(b.sbp - k * 35 + noise(3)), unit: "mm[Hg]", at },
      { kind: "diastolic", value: one(b.dbp - k * 20 + noise(2)), unit: "mm[Hg]", at },
      { kind: "temperature", value: one(b.temp + k * 2.6 + noise(0.1), 1), unit: "Cel", at },
      { kind: "glucose", value: one(b.glucose + k * 3 + noise(0.2), 1), unit: "mmol/L", at },
      { kind: "oxygen-flow", value: 0, unit: "L/min", at },
      { kind: "acvpu", value: k >= 1 ? "C" : "A", at },
    ];
  }
}
