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

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BATCH_ID = /^[A-Za-z0-9._-]{1,64}$/;

export const batchEnvelope = z.strictObject({
  device: z.string().min(1).max(64),
  payload: z.string().min(1).max(1_000_000).regex(BASE64URL, "expected base64url"),
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
  batchId: z.string().regex(BATCH_ID, "expected 1-64 of A-Z a-z 0-9 . _ -"),
  /** Device time of sending, milliseconds since the epoch. */
  sentAt: z.number().int().nonnegative(),
  readings: z.array(reading).min(1).max(MAX_READINGS_PER_BATCH),
});
export type BatchPayload = z.infer<typeof batchPayload>;

const KINDS: ReadonlySet<unknown> = new Set(VITAL_KINDS);
const LEVELS: ReadonlySet<unknown> = new Set(ACVPU_LEVELS);

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);
const isString = (x: unknown, min: number, max: number): x is string =>
  typeof x === "string" && x.length >= min && x.length <= max;
/** What `z.number().int().nonnegative()` accepts. */
const isTime = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/**
 * Whether `x` is a batch envelope, by the rules of {@link batchEnvelope} written out: the check
 * every batch pays. It accepts nothing the schema refuses; what it refuses goes through the schema
 * for the reasons (so the schema stays the definition).
 */
function isBatchEnvelope(x: unknown): x is BatchEnvelope {
  if (!isObject(x)) return false;
  let keys = 0;
  for (const k in x) {
    if (k !== "device" && k !== "payload" && k !== "signature") return false;
    keys++;
  }
  return (
    keys === 3 &&
    isString(x.device, 1, 64) &&
    isString(x.payload, 1, 1_000_000) &&
    BASE64URL.test(x.payload) &&
    isString(x.signature, 1, 200)
  );
}

/** Whether `x` is one reading by the rules of the schema's `reading`, written out. */
function isReading(x: unknown): x is DeviceReading {
  if (!isObject(x)) return false;
  let required = 0;
  for (const k in x) {
    if (k === "kind" || k === "value" || k === "at") required++;
    else if (k !== "unit") return false;
  }
  const value = x.value;
  return (
    required === 3 &&
    KINDS.has(x.kind) &&
    ((typeof value === "number" && Number.isFinite(value)) || LEVELS.has(value)) &&
    (x.unit === undefined || isString(x.unit, 0, 40)) &&
    isTime(x.at)
  );
}

/** Whether `x` is a batch payload by the rules of {@link batchPayload}, written out (as the envelope's). */
function isBatchPayload(x: unknown): x is BatchPayload {
  if (!isObject(x)) return false;
  let keys = 0;
  for (const k in x) {
    if (k !== "device" && k !== "batchId" && k !== "sentAt" && k !== "readings") return false;
    keys++;
  }
  const readings = x.readings;
  if (
    keys !== 4 ||
    !isString(x.device, 1, 64) ||
    typeof x.batchId !== "string" ||
    !BATCH_ID.test(x.batchId) ||
    !isTime(x.sentAt) ||
    !Array.isArray(readings) ||
    readings.length < 1 ||
    readings.length > MAX_READINGS_PER_BATCH
  )
    return false;
  for (const r of readings) if (!isReading(r)) return false;
  return true;
}

type Parsed<T> = { success: true; data: T } | { success: false; error: z.ZodError };

/**
 * Parses a batch envelope: the written-out check first, the schema for what it refuses.
 * @returns the envelope (the input itself: the schema neither adds nor changes a field), or the schema's error
 */
export function parseBatchEnvelope(x: unknown): Parsed<BatchEnvelope> {
  return isBatchEnvelope(x) ? { success: true, data: x } : batchEnvelope.safeParse(x);
}

/** Parses a batch payload as {@link parseBatchEnvelope} parses an envelope. */
export function parseBatchPayload(x: unknown): Parsed<BatchPayload> {
  return isBatchPayload(x) ? { success: true, data: x } : batchPayload.safeParse(x);
}

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
