/**
 * The tables of migrations 024 and 028 (src/store/migrations/024_monitoring.ts,
 * 028_monitoring_delivery.ts), typed for Kysely here in
 * the room that owns them: the store's schema stays the core's.
 */
import type { Kysely } from "kysely";
import type { Schema } from "../store/schema.js";

export interface MonitoringDeviceRow {
  device_id: string;
  patient_id: string;
  patient_account: string;
  /** The device's P-256 public key as a JSON Web Key (RFC 7517). */
  public_key: string;
  model: string;
  registered_by: string;
  registered_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
}

export interface MonitoringBatchRow {
  device_id: string;
  batch_id: string;
  patient_id: string;
  received_at: number;
  first_at: number;
  last_at: number;
  readings: number;
  blob: Uint8Array;
}

export interface MonitoringSettingsRow {
  patient_id: string;
  blob: Uint8Array;
  updated_at: number;
  updated_by: string;
}

export interface MonitoringAlertRow {
  alert_id: string;
  patient_id: string;
  patient_account: string;
  created_at: number;
  step: number;
  escalate_at: number | null;
  acked_at: number | null;
  acked_by: string | null;
  blob: Uint8Array;
}

/** A clinician's REST hook for their alerts: the owner as the consent decision needs them. */
export interface MonitoringAlertHookRow {
  hook_id: string;
  owner_account: string;
  owner_role: string;
  /** bytes32 organization id, lowercase hex. */
  owner_organization: string;
  purpose: string;
  url: string;
  created_at: number;
}

/** An alert's change (raised, escalated, acknowledged) as every API process follows it. */
export interface MonitoringAlertEventRow {
  /** The `monitoring-alerts` version it was written with. */
  seq: number;
  alert_id: string;
  kind: "alert" | "ack";
  step: number;
  at: number;
}

export type MonitoringTables = {
  monitoring_devices: MonitoringDeviceRow;
  monitoring_batches: MonitoringBatchRow;
  monitoring_settings: MonitoringSettingsRow;
  monitoring_alerts: MonitoringAlertRow;
  monitoring_alert_hooks: MonitoringAlertHookRow;
  monitoring_alert_events: MonitoringAlertEventRow;
};

export type MonitoringDb = Kysely<Schema & MonitoringTables>;

/** The node's database with the monitoring tables typed. */
export function monitoringDb(db: Kysely<Schema>): MonitoringDb {
  return db.withTables<MonitoringTables>();
}
