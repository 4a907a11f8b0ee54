/**
 * Registered monitoring devices: each a P-256 public key bound to one FHIR Patient, registered by
 * the patient or by a member of their care team whom the patient granted `write` on
 * device-readings, revocable by the same people. Shown as a FHIR `Device` whose `patient` is the
 * Patient, under the patient's consent (category device-readings), like any record.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import type { Address } from "viem";
import type { ConsentGate } from "../consent/consentGate.js";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { Auditor } from "../audit/auditor.js";
import type { Action } from "../model/vocabulary.js";
import { importPublicJwk, publicJwk, type PublicJwk } from "./deviceKeys.js";
import type { MonitoringDb, MonitoringDeviceRow } from "./monitoringTables.js";
import { DEVICE_CATEGORIES } from "./vitals.js";

/** What the device registry needs of the records layer: the account a FHIR Patient is linked to. */
export interface PatientAccounts {
  accountOf(patientId: string): Promise<Address | undefined>;
}

/** A device as ingest needs it: its key, whose patient, and whether it still counts. */
export interface KnownDevice {
  deviceId: string;
  patientId: string;
  patientAccount: Address;
  key: KeyObject;
  revokedAt: number | null;
}

export interface DeviceRegistryDeps {
  db: MonitoringDb;
  gate: Pick<ConsentGate, "forPatient">;
  patients: PatientAccounts;
  auditor: Pick<Auditor, "record">;
  /** How long a device looked up stays in memory before the database is asked again (5 s). */
  cacheMs?: number;
  now?: () => number;
}

export interface RegisterDevice {
  patientId: string;
  publicKey: PublicJwk;
  /** The device's model, e.g. "pulse oximeter"; shown as `Device.deviceName`. */
  model: string;
}

const DEVICE_ID = /^dev-[0-9a-f]{24}$/;

/** Whether a string has the shape of a device id (ids this registry hands out). */
export function isDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

export class DeviceRegistry {
  readonly #d: DeviceRegistryDeps;
  readonly #now: () => number;
  readonly #cache = new Map<string, { device: KnownDevice | undefined; until: number }>();
  readonly #loading = new Map<string, Promise<KnownDevice | undefined>>();
  /** Revocations made through this registry (a lookup that raced one does not cache its row). */
  #revocations = 0;

  constructor(deps: DeviceRegistryDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Registers a device for a patient.
   * @param principal - the patient themself, or a practitioner the patient granted `write` on device-readings
   * @returns the stored row
   * @throws BaseError("not-found") when the Patient is unknown to the caller or has no account
   */
  async register(principal: Principal, input: RegisterDevice): Promise<MonitoringDeviceRow> {
    const account = await this.#authorize(principal, input.patientId, "write");
    const key = importPublicJwk(publicJwk.parse(input.publicKey));
    void key;
    const row: MonitoringDeviceRow = {
      device_id: `dev-${randomBytes(12).toString("hex")}`,
      patient_id: input.patientId,
      patient_account: account.toLowerCase(),
      public_key: JSON.stringify(input.publicKey),
      model: input.model,
      registered_by: principal.account.toLowerCase(),
      registered_at: this.#now(),
      revoked_at: null,
      revoked_by: null,
    };
    await this.#d.auditor.record(principal, {
      action: "create",
      decision: "permit",
      patient: account,
      resources: [`Device/${row.device_id}`],
      categories: DEVICE_CATEGORIES,
      reason: "monitoring device registered",
    });
    await this.#d.db.insertInto("monitoring_devices").values(row).execute();
    return row;
  }

  /**
   * Revokes a device: from now on its batches are refused (in every process on the database
   * within the lookup cache's lifetime). Its stored readings stay part of the record.
   */
  async revoke(principal: Principal, deviceId: string): Promise<MonitoringDeviceRow> {
    const row = await this.#row(deviceId);
    if (row === undefined) throw unknownDevice();
    await this.#authorize(principal, row.patient_id, "write");
    if (row.revoked_at !== null) return row;
    const at = this.#now();
    await this.#d.auditor.record(principal, {
      action: "update",
      decision: "permit",
      patient: row.patient_account,
      resources: [`Device/${row.device_id}`],
      categories: DEVICE_CATEGORIES,
      reason: "monitoring device revoked",
    });
    await this.#d.db
      .updateTable("monitoring_devices")
      .set({ revoked_at: at, revoked_by: principal.account.toLowerCase() })
      .where("device_id", "=", deviceId)
      .where("revoked_at", "is", null)
      .execute();
    this.#revocations++;
    this.#cache.delete(deviceId);
    this.#loading.delete(deviceId);
    return { ...row, revoked_at: at, revoked_by: principal.account.toLowerCase() };
  }

  /** The devices of a patient the caller may see (device-readings, read). */
  async list(principal: Principal, patientId: string): Promise<MonitoringDeviceRow[]> {
    await this.#authorize(principal, patientId, "read");
    return this.#d.db
      .selectFrom("monitoring_devices")
      .selectAll()
      .where("patient_id", "=", patientId)
      .orderBy("registered_at")
      .execute();
  }

  /** One device the caller may see, or `not-found` (the same answer as for an unknown id). */
  async get(principal: Principal, deviceId: string): Promise<MonitoringDeviceRow> {
    const row = await this.#row(deviceId);
    if (row === undefined) throw unknownDevice();
    await this.#authorize(principal, row.patient_id, "read");
    return row;
  }

  /** The devices of every patient `principal` may see, among those registered at this node. */
  async visible(principal: Principal, limit = 1000): Promise<MonitoringDeviceRow[]> {
    const rows = await this.#d.db
      .selectFrom("monitoring_devices")
      .selectAll()
      .orderBy("registered_at")
      .limit(limit)
      .execute();
    return rows.filter((r) => this.#permits(principal, r.patient_account as Address, "read"));
  }

  /**
   * The device ingest checks a batch against (cached for `cacheMs`), or undefined when unknown.
   * Concurrent lookups of a device that is not cached share one query: a flood of batches from one
   * device costs one read, and reaches the device's rate budget at once.
   */
  lookup(deviceId: string): Promise<KnownDevice | undefined> {
    const now = this.#now();
    const hit = this.#cache.get(deviceId);
    if (hit !== undefined && hit.until > now) return Promise.resolve(hit.device);
    if (!isDeviceId(deviceId)) return Promise.resolve(undefined);
    let loading = this.#loading.get(deviceId);
    if (loading === undefined) {
      const mine = this.#load(deviceId).finally(() => {
        if (this.#loading.get(deviceId) === mine) this.#loading.delete(deviceId);
      });
      this.#loading.set(deviceId, (loading = mine));
    }
    return loading;
  }

  async #load(deviceId: string): Promise<KnownDevice | undefined> {
    const revocations = this.#revocations;
    const row = await this.#row(deviceId);
    const device =
      row === undefined
        ? undefined
        : {
            deviceId: row.device_id,
            patientId: row.patient_id,
            patientAccount: row.patient_account as Address,
            key: importPublicJwk(publicJwk.parse(JSON.parse(row.public_key))),
            revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
          };
    // a row read before a revocation here is answered once, never cached
    if (revocations !== this.#revocations) return device;
    if (this.#cache.size > 100_000) this.#cache.clear();
    this.#cache.set(deviceId, { device, until: this.#now() + (this.#d.cacheMs ?? 5000) });
    return device;
  }

  async #row(deviceId: string): Promise<MonitoringDeviceRow | undefined> {
    if (!isDeviceId(deviceId)) return undefined;
    return this.#d.db
      .selectFrom("monitoring_devices")
      .selectAll()
      .where("device_id", "=", deviceId)
      .executeTakeFirst();
  }

  #permits(principal: Principal, account: Address, action: Action): boolean {
    return this.#d.gate.forPatient(principal, account, action).decide(DEVICE_CATEGORIES, undefined).permit;
  }

  /** The patient's account when `principal` may act on their devices; a denial is audited and answered as not found. */
  async #authorize(principal: Principal, patientId: string, action: Action): Promise<Address> {
    const account = await this.#d.patients.accountOf(patientId);
    if (account === undefined) throw new BaseError("not-found", "no Patient with this id");
    if (!this.#permits(principal, account, action)) {
      await this.#d.auditor.record(principal, {
        action: "deny",
        decision: "deny",
        patient: account,
        categories: DEVICE_CATEGORIES,
        reason: `monitoring device ${action} refused`,
      });
      throw new BaseError("not-found", "no Patient with this id");
    }
    return account;
  }
}

function unknownDevice(): BaseError {
  return new BaseError("not-found", "no Device with this id");
}

/**
 * A device as a FHIR R4 `Device` (https://hl7.org/fhir/R4/device.html): active until revoked,
 * linked to its Patient. The public key is not part of the resource.
 */
export function toFhirDevice(row: MonitoringDeviceRow): object {
  return {
    resourceType: "Device",
    id: row.device_id,
    status: row.revoked_at === null ? "active" : "inactive",
    deviceName: [{ name: row.model, type: "user-friendly-name" }],
    patient: { reference: `Patient/${row.patient_id}` },
    meta: { lastUpdated: new Date(Number(row.revoked_at ?? row.registered_at)).toISOString() },
  };
}
