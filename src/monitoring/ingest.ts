/**
 * Ingest of signed batches (`POST /monitoring/batches`): a batch is checked once — its device is
 * known, within its rate budget, signed it, is not revoked, and sent it within the clock-skew
 * bound (which, with the per-device unique batch id, bounds replays) — then each reading is checked
 * on its own (type, unit, range, time) and brought to its stored UCUM unit. The accepted readings
 * update the patient's live state and score; the batch's audit entry is written before its chunk,
 * and the answer waits until both are durable; alerts the batch raised are durable and delivered
 * before the answer too. Refused batches and readings are counted per device, never stored.
 */
import { createHash } from "node:crypto";
import { systemPrincipal } from "../model/principal.js";
import type { Auditor } from "../audit/auditor.js";
import { BaseError } from "../errors/BaseError.js";
import { checkReading, parseBatchEnvelope, parseBatchPayload, type StoredReading } from "./batch.js";
import type { ChunkStore, StoredScore } from "./chunkStore.js";
import { verifyDeviceSignatureOffThread } from "./deviceKeys.js";
import { DeviceLimits, RefusalCounts, type RefusalReason } from "./deviceLimits.js";
import type { DeviceRegistry } from "./devices.js";
import type { Evaluation, MonitoringSettings, PatientVitals } from "./patientVitals.js";
import { READING_CATEGORIES, VITAL_KINDS, type VitalKind } from "./vitals.js";

export interface IngestResult {
  batchId: string;
  /** Readings stored by this batch. */
  accepted: number;
  /** Readings this device had sent before (same vital, same device time), not stored again. */
  duplicates: number;
  /** True when this device's batch id was stored before: nothing was stored now. */
  replayed: boolean;
  refused: { index: number; reason: RefusalReason }[];
  /** The NEWS2 Observation the batch completed, if any. */
  score?: string;
}

export interface PatientState {
  vitals: PatientVitals;
  settings: MonitoringSettings;
}

export interface IngestDeps {
  devices: Pick<DeviceRegistry, "lookup">;
  chunks: Pick<ChunkStore, "seal" | "write">;
  auditor: Pick<Auditor, "record">;
  stateOf(patientId: string): Promise<PatientState>;
  /** Raises the alerts an evaluation found (after the batch is stored). */
  alert(
    patientId: string,
    account: string,
    evaluation: Evaluation,
    scoreId: string | undefined,
  ): Promise<void>;
  limits?: DeviceLimits;
  /** How far a device's clock may be ahead or behind (5 min). */
  skewMs?: number;
  /** How old a reading may be when it arrives (7 days): a device that was offline catches up within it. */
  maxAgeMs?: number;
  now?: () => number;
}

/** Recent reading keys remembered per device, to drop resent readings before they are stored. */
const RECENT_PER_DEVICE = 1024;
const KIND_INDEX = new Map<VitalKind, number>(VITAL_KINDS.map((k, i) => [k, i]));
const SEEN_HERE = new Set<number>();

/** A reading's identity within its device as one number: device time and vital. */
const readingKey = (r: StoredReading): number => r[2] * 16 + KIND_INDEX.get(r[0])!;

export class Ingestor {
  readonly #d: IngestDeps;
  readonly #now: () => number;
  readonly limits: DeviceLimits;
  readonly refusals = new RefusalCounts();
  readonly #recent = new Map<string, Set<number>>();

  constructor(deps: IngestDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.limits = deps.limits ?? new DeviceLimits();
  }

  #refuse(device: string, reason: RefusalReason, error: BaseError): never {
    this.refusals.add(device, reason);
    throw error;
  }

  /**
   * Verifies and stores one signed batch.
   * @param input - the request body, unvalidated
   * @returns what was stored, what was a duplicate and what was refused (by index)
   * @throws BaseError: invalid (malformed, clock skew), unauthenticated (unknown device, bad
   *   signature), forbidden (revoked device), rate-limited
   */
  async ingest(input: unknown): Promise<IngestResult> {
    const envelope = parseBatchEnvelope(input);
    if (!envelope.success) {
      this.#refuse(
        "unknown",
        "malformed",
        new BaseError("invalid", "batch envelope is malformed", { expression: "device|payload|signature" }),
      );
    }
    const { device: deviceId, payload, signature } = envelope.data;
    const device = await this.#d.devices.lookup(deviceId);
    if (device === undefined) {
      this.#refuse("unknown", "unknown-device", new BaseError("unauthenticated", "unknown device"));
    }
    if (!this.limits.takeBatch(deviceId)) {
      this.#refuse(deviceId, "rate-limited", new BaseError("rate-limited", "device batch rate exceeded"));
    }
    const bytes = Buffer.from(payload, "base64url");
    if (!(await verifyDeviceSignatureOffThread(device.key, bytes, signature))) {
      this.#refuse(
        deviceId,
        "bad-signature",
        new BaseError("unauthenticated", "batch signature does not verify"),
      );
    }
    if (device.revokedAt !== null) {
      this.#refuse(deviceId, "device-revoked", new BaseError("forbidden", "device is revoked"));
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch {
      parsed = undefined;
    }
    const body = parseBatchPayload(parsed);
    if (!body.success) {
      this.#refuse(
        deviceId,
        "malformed",
        new BaseError("invalid", "batch payload is malformed", {
          details: body.error.issues
            .slice(0, 5)
            .map((i) => `${i.path.join(".")}: ${i.message}`)
            .join("; "),
        }),
      );
    }
    const batch = body.data;
    if (batch.device !== deviceId) {
      this.#refuse(
        deviceId,
        "device-mismatch",
        new BaseError("invalid", "payload device differs from envelope device"),
      );
    }
    const now = this.#now();
    const skew = this.#d.skewMs ?? 5 * 60_000;
    if (Math.abs(batch.sentAt - now) > skew) {
      this.#refuse(
        deviceId,
        "sent-at-out-of-bounds",
        new BaseError("invalid", "sentAt is outside the clock-skew bound", { expression: "sentAt" }),
      );
    }
    if (!this.limits.takeReadings(deviceId, batch.readings.length)) {
      this.#refuse(deviceId, "rate-limited", new BaseError("rate-limited", "device reading rate exceeded"));
    }

    const bounds = { now, skewMs: skew, maxAgeMs: this.#d.maxAgeMs ?? 7 * 86_400_000 };
    const refused: IngestResult["refused"] = [];
    const readings: StoredReading[] = [];
    let duplicates = 0;
    let recent = this.#recent.get(deviceId);
    if (recent === undefined) this.#recent.set(deviceId, (recent = new Set()));
    // readings of this batch, by key (a scratch set: the loop below never awaits)
    const seenHere = SEEN_HERE;
    seenHere.clear();
    const list = batch.readings;
    for (let index = 0; index < list.length; index++) {
      const checked = checkReading(list[index]!, bounds);
      if (typeof checked === "string") {
        this.refusals.add(deviceId, checked);
        refused.push({ index, reason: checked });
        continue;
      }
      const key = readingKey(checked);
      if (recent.has(key) || seenHere.has(key)) {
        duplicates++;
        continue;
      }
      seenHere.add(key);
      readings.push(checked);
    }
    const result: IngestResult = {
      batchId: batch.batchId,
      accepted: 0,
      duplicates,
      replayed: false,
      refused,
    };
    if (readings.length === 0) return result;

    const state = await this.#d.stateOf(device.patientId);
    state.vitals.take(deviceId, readings, state.settings);
    const evaluation = state.vitals.evaluate(state.settings);
    const score: StoredScore | undefined = evaluation.score && {
      total: evaluation.score.total,
      risk: evaluation.score.risk,
      scale: evaluation.score.scale,
      parts: evaluation.score.parts,
      at: evaluation.score.at,
      inputs: Object.fromEntries(
        Object.entries(evaluation.score.inputs).map(([k, r]) => [k, [r.device, r.at, r.value]]),
      ),
    };
    // sealed while the audit entry commits; the entry is durable before the chunk is written, so
    // a crash between the two leaves an entry for a batch the device resends
    const sealed = this.#d.chunks.seal(device.patientId, {
      device: deviceId,
      batchId: batch.batchId,
      receivedAt: now,
      readings,
      ...(score ? { score } : {}),
    });
    const audited = this.#d.auditor.record(systemPrincipal(`batch.${deviceId}.${batch.batchId}`), {
      action: "create",
      decision: "permit",
      patient: device.patientAccount,
      resources: [`Device/${deviceId}`],
      categories: READING_CATEGORIES,
      reason: "monitoring batch received",
    });
    const [row] = await Promise.all([sealed, audited]);
    const stored = await this.#d.chunks.write(row);
    if (!stored) return { ...result, duplicates: duplicates + readings.length, replayed: true };
    for (const r of readings) recent.add(readingKey(r));
    if (recent.size > RECENT_PER_DEVICE) {
      let drop = recent.size - RECENT_PER_DEVICE;
      for (const k of recent) {
        if (drop-- <= 0) break;
        recent.delete(k);
      }
    }
    const scoreId = score ? scoreObservationId(deviceId, batch.batchId) : undefined;
    if (evaluation.raised.length > 0) {
      await this.#d.alert(device.patientId, device.patientAccount, evaluation, scoreId);
    }
    return { ...result, accepted: readings.length, ...(scoreId ? { score: `Observation/${scoreId}` } : {}) };
  }
}

/** The id of the NEWS2 Observation a batch completed. */
export function scoreObservationId(device: string, batchId: string): string {
  return `news2-${createHash("sha256").update(`${device}\0${batchId}`).digest("hex").slice(0, 32)}`;
}

/** The id of a reading's Observation: the same for every copy of it (device, vital, device time). */
export function readingObservationId(device: string, kind: VitalKind, at: number): string {
  return `vs-${createHash("sha256").update(`${device}\0${kind}\0${at}`).digest("hex").slice(0, 32)}`;
}
