/**
 * The monitoring room as the node wires it: devices, ingest, live patient state and scores,
 * alerts, the care team's per-patient settings, and the FHIR views of readings and devices.
 * The API routes and the CLI are thin shells over it.
 */
import type { Address } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { ConsentGate } from "../consent/consentGate.js";
import { decryptRecord, encryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { Store } from "../store/database.js";
import type { SharedState } from "../store/sharedState.js";
import { AlertHooks, type HookDelivery } from "./alertHooks.js";
import { AlertService, type AlertView } from "./alerts.js";
import { ChunkStore, patientKeyId } from "./chunkStore.js";
import { DeviceLimits, type DeviceLimitOptions } from "./deviceLimits.js";
import { DeviceRegistry, toFhirDevice, type PatientAccounts } from "./devices.js";
import { Ingestor, type PatientState } from "./ingest.js";
import { monitoringDb, type MonitoringDb } from "./monitoringTables.js";
import { searchMonitoringObservations } from "./observations.js";
import {
  DEFAULT_SETTINGS,
  monitoringSettings,
  PatientVitals,
  type MonitoringSettings,
} from "./patientVitals.js";
import { READING_CATEGORIES } from "./vitals.js";
import { WardView, type PatientVitalsView, type WardPatient } from "./ward.js";

export interface MonitoringDeps {
  store: Pick<Store, "db" | "sqlite">;
  keyring: PatientKeyring;
  gate: Pick<ConsentGate, "forPatient">;
  auditor: Pick<Auditor, "record">;
  patients: PatientAccounts;
  limits?: DeviceLimitOptions;
  /** Where alert REST hooks are POSTed (the node wires its SSRF-checked delivery queue); none: no hooks. */
  hookDelivery?: HookDelivery;
  /** The versions shared with the organization's other API processes: alerts raised there reach streams here. */
  shared?: Pick<SharedState, "on">;
  /** Escalation check interval (1 s). */
  escalationTickMs?: number;
  skewMs?: number;
  maxAgeMs?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

/** Patients whose live state is kept; past it the state of the least recently fed is dropped. */
const MAX_LIVE_PATIENTS = 100_000;

export class MonitoringService {
  readonly db: MonitoringDb;
  readonly devices: DeviceRegistry;
  readonly chunks: ChunkStore;
  readonly alerts: AlertService;
  readonly hooks: AlertHooks;
  readonly ward: WardView;
  readonly ingestor: Ingestor;
  readonly #d: MonitoringDeps;
  readonly #states = new Map<string, Promise<PatientState>>();

  constructor(deps: MonitoringDeps) {
    this.#d = deps;
    this.db = monitoringDb(deps.store.db);
    this.devices = new DeviceRegistry({
      db: this.db,
      gate: deps.gate,
      patients: deps.patients,
      auditor: deps.auditor,
      ...(deps.now ? { now: deps.now } : {}),
    });
    this.chunks = new ChunkStore(this.db, deps.keyring, deps.store.sqlite);
    this.hooks = new AlertHooks(this.db, deps.hookDelivery, deps.now);
    this.ward = new WardView({
      db: this.db,
      chunks: this.chunks,
      gate: deps.gate,
      patients: deps.patients,
      auditor: deps.auditor,
      ...(deps.now ? { now: deps.now } : {}),
    });
    this.alerts = new AlertService({
      db: this.db,
      keyring: deps.keyring,
      gate: deps.gate,
      auditor: deps.auditor,
      settingsOf: async (patientId) => (await this.#state(patientId)).settings,
      hooks: this.hooks,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.escalationTickMs ? { tickMs: deps.escalationTickMs } : {}),
      ...(deps.onError ? { onError: deps.onError } : {}),
    });
    this.ingestor = new Ingestor({
      devices: this.devices,
      chunks: this.chunks,
      auditor: deps.auditor,
      stateOf: (patientId) => this.#state(patientId),
      alert: async (patientId, account, evaluation, scoreId) => {
        const s = evaluation.score;
        await this.alerts.raise(
          patientId,
          account as Address,
          evaluation.raised,
          s && scoreId ? { total: s.total, risk: s.risk, observation: `Observation/${scoreId}` } : undefined,
        );
      },
      limits: new DeviceLimits(deps.limits),
      ...(deps.skewMs ? { skewMs: deps.skewMs } : {}),
      ...(deps.maxAgeMs ? { maxAgeMs: deps.maxAgeMs } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    });
    if (deps.shared) this.alerts.follow(deps.shared);
  }

  start(): void {
    this.alerts.start();
  }

  stop(): void {
    this.alerts.stop();
  }

  /** A patient's live state: settings read once, vitals warmed from the chunks of the last hour. */
  #state(patientId: string): Promise<PatientState> {
    let p = this.#states.get(patientId);
    if (p === undefined) {
      if (this.#states.size >= MAX_LIVE_PATIENTS) this.#states.delete(this.#states.keys().next().value!);
      p = this.#loadState(patientId);
      this.#states.set(patientId, p);
      p.catch(() => this.#states.delete(patientId));
    }
    return p;
  }

  async #loadState(patientId: string): Promise<PatientState> {
    const settings = await this.#readSettings(patientId);
    const vitals = new PatientVitals();
    const now = this.#d.now?.() ?? Date.now();
    const window =
      Math.max(settings.freshMinutes, ...settings.thresholds.map((t) => t.windowMinutes)) * 60_000;
    const chunks = await this.chunks.read(patientId, now - window, Number.POSITIVE_INFINITY, 500);
    for (const c of chunks.reverse()) vitals.take(c.device, c.readings, settings);
    // what the stored readings already showed was alerted when they arrived
    if (chunks.length > 0) vitals.evaluate(settings);
    return { vitals, settings };
  }

  async #readSettings(patientId: string): Promise<MonitoringSettings> {
    const row = await this.db
      .selectFrom("monitoring_settings")
      .selectAll()
      .where("patient_id", "=", patientId)
      .executeTakeFirst();
    if (row === undefined) return DEFAULT_SETTINGS;
    const plain = await decryptRecord(
      this.#d.keyring,
      patientKeyId(patientId),
      row.blob,
      settingsAad(patientId),
    );
    return monitoringSettings.parse(JSON.parse(Buffer.from(plain).toString("utf8")));
  }

  /** The consent decision on a patient's monitoring data, refusals audited and answered as not found. */
  async #authorize(principal: Principal, patientId: string, action: "read" | "write"): Promise<Address> {
    const account = await this.#d.patients.accountOf(patientId);
    const permit =
      account !== undefined &&
      this.#d.gate.forPatient(principal, account, action).decide(READING_CATEGORIES, undefined).permit;
    if (!permit) {
      if (account !== undefined) {
        await this.#d.auditor.record(principal, {
          action: "deny",
          decision: "deny",
          patient: account,
          categories: READING_CATEGORIES,
          reason: `monitoring settings ${action} refused`,
        });
      }
      throw new BaseError("not-found", "no Patient with this id");
    }
    return account;
  }

  /** The care team's settings for a patient (a practitioner with read on the patient's vitals, or the patient). */
  async settings(principal: Principal, patientId: string): Promise<MonitoringSettings> {
    await this.#authorize(principal, patientId, "read");
    return (await this.#state(patientId)).settings;
  }

  /**
   * Sets a patient's settings: a practitioner the patient granted `write` on vitals and
   * device-readings (the care team); not the patient, whose own readings these rules judge.
   */
  async setSettings(principal: Principal, patientId: string, input: unknown): Promise<MonitoringSettings> {
    if (principal.kind !== "practitioner")
      throw new BaseError("forbidden", "monitoring settings are set by the care team");
    const account = await this.#authorize(principal, patientId, "write");
    const settings = monitoringSettings.parse(input);
    const { ciphertext } = await encryptRecord(
      this.#d.keyring,
      patientKeyId(patientId),
      Buffer.from(JSON.stringify(settings), "utf8"),
      settingsAad(patientId),
    );
    await this.#d.auditor.record(principal, {
      action: "update",
      decision: "permit",
      patient: account,
      categories: READING_CATEGORIES,
      reason: "monitoring settings set",
    });
    const now = this.#d.now?.() ?? Date.now();
    await this.db
      .insertInto("monitoring_settings")
      .values({
        patient_id: patientId,
        blob: ciphertext,
        updated_at: now,
        updated_by: principal.account.toLowerCase(),
      })
      .onConflict((oc) =>
        oc
          .column("patient_id")
          .doUpdateSet({ blob: ciphertext, updated_at: now, updated_by: principal.account.toLowerCase() }),
      )
      .execute();
    const state = await this.#state(patientId);
    state.settings = settings;
    return settings;
  }

  /** The FHIR API's Observation search over monitoring data. */
  observations(principal: Principal, q: Record<string, string | string[] | undefined>) {
    return searchMonitoringObservations(
      { chunks: this.chunks, gate: this.#d.gate, patients: this.#d.patients, auditor: this.#d.auditor },
      principal,
      q,
    );
  }

  /** The FHIR Devices (monitoring devices) of a patient the caller may see, or of every such patient. */
  async fhirDevices(
    principal: Principal,
    q: Record<string, string | string[] | undefined>,
  ): Promise<object[]> {
    const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    const patient = one(q.patient)?.replace(/^Patient\//, "");
    if (patient !== undefined) {
      try {
        return (await this.devices.list(principal, patient)).map(toFhirDevice);
      } catch (err) {
        if (err instanceof BaseError && err.kind === "not-found") return [];
        throw err;
      }
    }
    return (await this.devices.visible(principal)).map(toFhirDevice);
  }

  /** One patient's vitals over the last `minutes`, for charts (the patient, or their consented care team). */
  vitals(principal: Principal, patientId: string, minutes: number): Promise<PatientVitalsView> {
    return this.ward.patient(principal, patientId, minutes);
  }

  /** The live ward board: the monitored patients the caller may see, highest latest NEWS2 first. */
  async wardBoard(principal: Principal, minutes: number): Promise<WardPatient[]> {
    const open = new Map<string, number>();
    for (const a of await this.alerts.list(principal, { open: true })) {
      const id = a.patient.replace(/^Patient\//, "");
      open.set(id, (open.get(id) ?? 0) + 1);
    }
    return this.ward.ward(principal, minutes, (id) => open.get(id) ?? 0);
  }

  /** Alerts the caller may see. */
  listAlerts(
    principal: Principal,
    options: { open?: boolean; patientId?: string } = {},
  ): Promise<AlertView[]> {
    return this.alerts.list(principal, options);
  }
}

function settingsAad(patientId: string): string {
  return `monitoring/settings/${patientId}`;
}
