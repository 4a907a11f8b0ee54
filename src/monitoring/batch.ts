/**
 * The signed batch a device posts (`POST /monitoring/batches`): an envelope naming the device, the
 * payload as base64url of its UTF-8 JSON, and the device's ES256 signature over exactly those
 * payload bytes (so nothing is canonicalized before the signature is checked: the JWS idea without
 * its header). The payload names the device again, a batch id unique per device, the device's
 * clock when it sent the batch, and the readings with their own device timestamps.
 */
import { z } from "zod";
import { ACVPU_LEVELS, type Acvpu } from "./news2.js";
import { toCanonical } from "./units.js";
import { VITALS, VITAL_KINDS, type VitalKind } from "./vitals.js";
import { deviceSigner } from "./deviceKeys.js";

export const MAX_READINGS_PER_BATCH = 2000;

export const batchEnvelope = z.strictObject({
  device: z.string().min(1).max(64),
  payload: z
    .string()
    .min(1)
    .max(1_000_000)
    .regex(/^[A-Za-z0-9_-]+$/, "expected base64url"),
  signature: z.string().min(1).max(200),
});
export type BatchEnvelope = z.infer<typeof batchEnvelope>;

const reading = z.strictObject({
  kind: z.enum(VITAL_KINDS),
  value: z.union([z.number(), z.enum(ACVPU_LEVELS as [Acvpu, ...Acvpu[]])]),
  unit: z.string().max(40).optional(),
  /** Device time of the measurement, milliseconds since the epoch. */
  at: z.number().int().nonnegative(),
});
export type DeviceReading = z.infer<typeof reading>;

export const batchPayload = z.strictObject({
  device: z.string().min(1).max(64),
  batchId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "expected 1-64 of A-Z a-z 0-9 . _ -"),
  /** Device time of sending, milliseconds since the epoch. */
  sentAt: z.number().int().nonnegative(),
  readings: z.array(reading).min(1).max(MAX_READINGS_PER_BATCH),
});
export type BatchPayload = z.infer<typeof batchPayload>;

/** A reading as stored: kind, value in the stored unit (or the ACVPU letter), device time. */
export type StoredReading = [kind: VitalKind, value: number | Acvpu, at: number];

/** Why one reading was refused (names the rule, never the value). */
export type ReadingRefusal =
  "unit-missing" | "unit-not-convertible" | "value-type" | "out-of-range" | "in-the-future" | "too-old";

export interface TimeBounds {
  /** Server time now, ms. */
  now: number;
  /** How far a device clock may run ahead (ms). */
  skewMs: number;
  /** How old a reading may be when it arrives (ms). */
  maxAgeMs: number;
}

/**
 * Checks one reading and brings it to its stored unit.
 * @returns the stored reading, or why it is refused
 */
export function checkReading(r: DeviceReading, bounds: TimeBounds): StoredReading | ReadingRefusal {
  if (r.at > bounds.now + bounds.skewMs) return "in-the-future";
  if (r.at < bounds.now - bounds.maxAgeMs) return "too-old";
  if (r.kind === "acvpu") {
    return typeof r.value === "string" ? ["acvpu", r.value, r.at] : "value-type";
  }
  if (typeof r.value !== "number" || !Number.isFinite(r.value)) return "value-type";
  if (r.unit === undefined) return "unit-missing";
  const value = toCanonical(r.kind, r.value, r.unit);
  if (value === undefined) return "unit-not-convertible";
  const def = VITALS[r.kind];
  if (!(value >= def.min && value <= def.max)) return "out-of-range";
  return [r.kind, value, r.at];
}

/**
 * Builds a signed batch the way a device does (the simulator, tests, the bench).
 * @param privatePem - the device's P-256 private key
 */
export function signBatch(privatePem: string, payload: BatchPayload): BatchEnvelope {
  return batchSigner(privatePem)(payload);
}

/** A device's batch signer, its key parsed once. */
export function batchSigner(privatePem: string): (payload: BatchPayload) => BatchEnvelope {
  const sign = deviceSigner(privatePem);
  return (payload) => {
    const bytes = Buffer.from(JSON.stringify(payload), "utf8");
    return { device: payload.device, payload: bytes.toString("base64url"), signature: sign(bytes) };
  };
}
