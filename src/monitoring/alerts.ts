/**
 * Alerts of deterioration: raised when a patient's NEWS2 aggregate reaches 5 or 7, a single
 * parameter scores 3, or a care-team threshold is breached; delivered live to the members of the
 * care team the patient's consent lets see their vitals and whom the escalation chain names at the
 * alert's step; acknowledged by one of them; escalated to the chain's next step when nobody
 * acknowledged in time. Every alert, delivery, escalation and acknowledgement is an audit entry
 * about the patient. Whoever the consent decision refuses never hears of an alert: not on a
 * stream, not in a list, and an acknowledgement of an alert they may not see is answered as for
 * an id that does not exist.
 *
 * Live recipients are the streams (SSE, WebSocket) open in this process, and the REST hooks
 * clinicians registered (src/monitoring/alertHooks.ts). Every change of an alert (raised,
 * escalated, acknowledged) is also written as an event under the shared `monitoring-alerts`
 * version, so the other API processes of the organization deliver it to their own streams
 * (src/store/sharedState.ts); hooks are pushed once, by the process where the change happened.
 */
import { randomBytes } from "node:crypto";
import type { Transaction } from "kysely";
import type { Address } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { ConsentGate } from "../consent/consentGate.js";
import { decryptRecord, encryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import { systemPrincipal, type Principal } from "../model/principal.js";
import type { Schema } from "../store/schema.js";
import { bumpVersion, type SharedState } from "../store/sharedState.js";
import type { AlertHooks } from "./alertHooks.js";
import { patientKeyId } from "./chunkStore.js";
import type { MonitoringAlertRow, MonitoringDb, MonitoringTables } from "./monitoringTables.js";
import type { AlertTrigger, EscalationStep, MonitoringSettings } from "./patientVitals.js";
import { READING_CATEGORIES } from "./vitals.js";

/** An alert as its recipients see it. */
export interface AlertView {
  id: string;
  patient: string;
  createdAt: string;
  triggers: AlertTrigger[];
  /** The NEWS2 aggregate when the alert was raised, if a complete set existed. */
  news2?: { total: number; risk: string; observation: string };
  /** How far it escalated (0: the chain's first step). */
  step: number;
  acknowledged: { at: string; by: string } | null;
}

export type AlertEvent = { type: "alert"; alert: AlertView } | { type: "ack"; alert: AlertView };

interface Subscriber {
  principal: Principal;
  send(event: AlertEvent): void;
}

interface AlertBody {
  triggers: AlertTrigger[];
  news2?: AlertView["news2"];
}

export interface AlertServiceDeps {
  db: MonitoringDb;
  keyring: Pick<PatientKeyring, "keyFor" | "dataKey">;
  gate: Pick<ConsentGate, "forPatient">;
  auditor: Pick<Auditor, "record">;
  settingsOf(patientId: string): Promise<MonitoringSettings>;
  /** REST hooks to push alerts to, besides live streams. */
  hooks?: Pick<AlertHooks, "all" | "push">;
  now?: () => number;
  /** How often due escalations are looked for (1 s). */
  tickMs?: number;
  onError?: (err: unknown) => void;
}

const ALERT_ID = /^al-[0-9a-f]{24}$/;

export class AlertService {
  readonly #d: AlertServiceDeps;
  readonly #now: () => number;
  readonly #subscribers = new Set<Subscriber>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  /** Versions of the alert events this process wrote, while followers have not passed them. */
  readonly #own = new Set<number>();
  #following = false;

  constructor(deps: AlertServiceDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Starts looking for unacknowledged alerts due to escalate. */
  start(): void {
    this.#timer ??= setInterval(() => void this.escalateDue(), this.#d.tickMs ?? 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Adds a live recipient (a clinician's stream). Only what the consent decision and the
   * escalation chain let them see is ever sent to it.
   * @returns the unsubscribe function
   */
  subscribe(principal: Principal, send: (event: AlertEvent) => void): () => void {
    const sub: Subscriber = { principal, send };
    this.#subscribers.add(sub);
    return () => this.#subscribers.delete(sub);
  }

  /**
   * Raises one alert for the triggers of an evaluation and delivers it.
   * @param patientId - the FHIR Patient
   * @param account - the patient's account (consent is keyed by it)
   */
  async raise(
    patientId: string,
    account: Address,
    triggers: AlertTrigger[],
    news2: AlertView["news2"] | undefined,
  ): Promise<AlertView> {
    const settings = await this.#d.settingsOf(patientId);
    const id = `al-${randomBytes(12).toString("hex")}`;
    const now = this.#now();
    const body: AlertBody = news2 ? { triggers, news2 } : { triggers };
    const { ciphertext } = await encryptRecord(
      this.#d.keyring,
      patientKeyId(patientId),
      Buffer.from(JSON.stringify(body), "utf8"),
      alertAad(id),
    );
    const row: MonitoringAlertRow = {
      alert_id: id,
      patient_id: patientId,
      patient_account: account.toLowerCase(),
      created_at: now,
      step: 0,
      escalate_at: settings.escalation.length > 1 ? now + settings.escalateAfterSeconds * 1000 : null,
      acked_at: null,
      acked_by: null,
      blob: ciphertext,
    };
    await this.#d.auditor.record(systemPrincipal(`alert.${id}`), {
      action: "alert",
      decision: "permit",
      patient: account,
      resources: [`Flag/${id}`],
      categories: READING_CATEGORIES,
      reason: "monitoring alert raised",
    });
    await this.#change(async (tx, announce) => {
      await tx.insertInto("monitoring_alerts").values(row).execute();
      await announce("alert", id, 0);
    });
    const view = viewOf(row, body);
    await this.#deliver(row, view, settings.escalation, 0, true);
    return view;
  }

  /**
   * Sends an alert to the live recipients its step names (only newly named ones), auditing each
   * delivery; with `hooks`, also queues a POST to each such recipient's REST hooks (the process
   * where the alert was raised or escalated does, once).
   */
  async #deliver(
    row: MonitoringAlertRow,
    view: AlertView,
    chain: EscalationStep[],
    step: number,
    hooks: boolean,
  ): Promise<void> {
    const account = row.patient_account as Address;
    const named = (p: Principal) => this.#mayKnow(p, account) && firstStepNaming(chain, p) === step;
    const deliveries: Promise<number>[] = [];
    for (const sub of this.#subscribers) {
      if (!named(sub.principal)) continue;
      sub.send({ type: "alert", alert: view });
      deliveries.push(this.#auditDelivery(sub.principal, row));
    }
    for (const hook of hooks && this.#d.hooks ? await this.#d.hooks.all() : []) {
      if (!named(hook.owner)) continue;
      // the alert, its patient and step; the receiver reads the rest under its own session
      const body = {
        type: "alert",
        alert: { id: view.id, patient: view.patient, createdAt: view.createdAt, step: view.step },
      };
      await this.#d.hooks!.push(hook, `monitoring-alert:${row.alert_id}:${step}:${hook.id}`, body);
      deliveries.push(this.#auditDelivery(hook.owner, row, "monitoring alert delivered by REST hook"));
    }
    await Promise.all(deliveries);
  }

  #auditDelivery(
    principal: Principal,
    row: MonitoringAlertRow,
    reason = "monitoring alert delivered",
  ): Promise<number> {
    return this.#d.auditor.record(principal, {
      action: "alert",
      decision: "permit",
      patient: row.patient_account,
      resources: [`Flag/${row.alert_id}`],
      categories: READING_CATEGORIES,
      reason,
    });
  }

  /**
   * Runs an alert's change in a transaction with `announce`, which writes the change as an event
   * the other processes follow.
   */
  async #change<T>(
    fn: (
      tx: Transaction<Schema & MonitoringTables>,
      announce: (kind: "alert" | "ack", alertId: string, step: number) => Promise<void>,
    ) => Promise<T>,
  ): Promise<T> {
    const mine: number[] = [];
    try {
      return await this.#d.db.transaction().execute((tx) =>
        fn(tx, async (kind, alertId, step) => {
          const seq = await bumpVersion(tx as unknown as Transaction<Schema>, "monitoring-alerts");
          // noted before the commit, so this process's follower never takes its own event for another's
          if (this.#following) {
            this.#own.add(seq);
            mine.push(seq);
          }
          await tx
            .insertInto("monitoring_alert_events")
            .values({ seq, alert_id: alertId, kind, step, at: this.#now() })
            .execute();
        }),
      );
    } catch (err) {
      // a version rolled back is taken again by the next change, maybe another process's
      for (const seq of mine) this.#own.delete(seq);
      throw err;
    }
  }

  /**
   * Follows the alert events other processes write: each raised or escalated alert is delivered
   * to this process's streams as it would be here (consent, step, one audit entry per delivery),
   * each acknowledgement is told to them. Events older than a day are dropped as they are read.
   */
  follow(shared: Pick<SharedState, "on">): void {
    this.#following = true;
    shared.on("monitoring-alerts", async (since, version) => {
      const events = await this.#d.db
        .selectFrom("monitoring_alert_events")
        .selectAll()
        .where("seq", ">", since)
        .where("seq", "<=", version)
        .orderBy("seq")
        .execute();
      for (const event of events) {
        if (this.#own.delete(Number(event.seq))) continue;
        if (this.#subscribers.size === 0) continue;
        const row = await this.#d.db
          .selectFrom("monitoring_alerts")
          .selectAll()
          .where("alert_id", "=", event.alert_id)
          .executeTakeFirst();
        if (row === undefined) continue;
        const view = viewOf(row, await this.#body(row));
        if (event.kind === "ack") this.#tellAck(row, view);
        else {
          const settings = await this.#d.settingsOf(row.patient_id);
          await this.#deliver(row, view, settings.escalation, Number(event.step), false);
        }
      }
      await this.#d.db
        .deleteFrom("monitoring_alert_events")
        .where("at", "<", this.#now() - 86_400_000)
        .execute();
    });
  }

  /** Tells this process's streams that may know the patient's alerts about an acknowledgement. */
  #tellAck(row: MonitoringAlertRow, view: AlertView): void {
    for (const sub of this.#subscribers) {
      if (this.#mayKnow(sub.principal, row.patient_account as Address))
        sub.send({ type: "ack", alert: view });
    }
  }

  /** Whether the consent decision lets `principal` see this patient's monitoring data. */
  #mayKnow(principal: Principal, account: Address): boolean {
    return this.#d.gate.forPatient(principal, account, "read").decide(READING_CATEGORIES, undefined).permit;
  }

  /**
   * The alerts `principal` may see, newest first: those of patients whose consent lets them see
   * vitals (and the patient their own).
   */
  async list(
    principal: Principal,
    options: { open?: boolean; patientId?: string; limit?: number } = {},
  ): Promise<AlertView[]> {
    let q = this.#d.db
      .selectFrom("monitoring_alerts")
      .selectAll()
      .orderBy("created_at", "desc")
      .limit(options.limit ?? 200);
    if (options.open) q = q.where("acked_at", "is", null);
    if (options.patientId !== undefined) q = q.where("patient_id", "=", options.patientId);
    const rows = await q.execute();
    const out: AlertView[] = [];
    for (const row of rows) {
      if (!this.#mayKnow(principal, row.patient_account as Address)) continue;
      out.push(viewOf(row, await this.#body(row)));
    }
    return out;
  }

  /**
   * The unacknowledged alerts already addressed to `principal` (by consent and by the escalation
   * step reached): what a stream that opens now sends first, each delivery audited.
   */
  async pendingFor(principal: Principal): Promise<AlertView[]> {
    const rows = await this.#d.db
      .selectFrom("monitoring_alerts")
      .selectAll()
      .where("acked_at", "is", null)
      .orderBy("created_at", "desc")
      .limit(200)
      .execute();
    const out: AlertView[] = [];
    for (const row of rows) {
      if (!this.#mayKnow(principal, row.patient_account as Address)) continue;
      const first = firstStepNaming((await this.#d.settingsOf(row.patient_id)).escalation, principal);
      if (first < 0 || first > Number(row.step)) continue;
      out.push(viewOf(row, await this.#body(row)));
      await this.#auditDelivery(principal, row);
    }
    return out;
  }

  /**
   * Acknowledges an alert (once: a second acknowledgement returns the first one's answer).
   * @throws BaseError("not-found") for an unknown alert and for one the caller may not see
   */
  async ack(principal: Principal, alertId: string): Promise<AlertView> {
    const row = ALERT_ID.test(alertId)
      ? await this.#d.db
          .selectFrom("monitoring_alerts")
          .selectAll()
          .where("alert_id", "=", alertId)
          .executeTakeFirst()
      : undefined;
    if (row === undefined || !this.#mayKnow(principal, row.patient_account as Address)) {
      if (row !== undefined) {
        await this.#d.auditor.record(principal, {
          action: "deny",
          decision: "deny",
          patient: row.patient_account,
          categories: READING_CATEGORIES,
          reason: "monitoring alert acknowledgement refused",
        });
      }
      throw new BaseError("not-found", "no alert with this id");
    }
    const body = await this.#body(row);
    if (row.acked_at !== null) return viewOf(row, body);
    const at = this.#now();
    const by = principal.account.toLowerCase();
    await this.#d.auditor.record(principal, {
      action: "alert",
      decision: "permit",
      patient: row.patient_account,
      resources: [`Flag/${row.alert_id}`],
      categories: READING_CATEGORIES,
      reason: "monitoring alert acknowledged",
    });
    const done = await this.#change(async (tx, announce) => {
      const updated = await tx
        .updateTable("monitoring_alerts")
        .set({ acked_at: at, acked_by: by, escalate_at: null })
        .where("alert_id", "=", alertId)
        .where("acked_at", "is", null)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) > 0) await announce("ack", alertId, Number(row.step));
      return updated;
    });
    if (Number(done.numUpdatedRows) === 0) {
      const now = await this.#d.db
        .selectFrom("monitoring_alerts")
        .selectAll()
        .where("alert_id", "=", alertId)
        .executeTakeFirstOrThrow();
      return viewOf(now, body);
    }
    const view = viewOf({ ...row, acked_at: at, acked_by: by, escalate_at: null }, body);
    this.#tellAck(row, view);
    return view;
  }

  /** Escalates every unacknowledged alert whose time has come by one step; returns how many. */
  async escalateDue(): Promise<number> {
    if (this.#ticking) return 0;
    this.#ticking = true;
    try {
      const now = this.#now();
      const due = await this.#d.db
        .selectFrom("monitoring_alerts")
        .selectAll()
        .where("escalate_at", "<=", now)
        .where("acked_at", "is", null)
        .limit(500)
        .execute();
      let n = 0;
      for (const row of due) {
        const settings = await this.#d.settingsOf(row.patient_id);
        const step = Number(row.step) + 1;
        const last = step >= settings.escalation.length - 1;
        const escalateAt = last ? null : now + settings.escalateAfterSeconds * 1000;
        await this.#d.auditor.record(systemPrincipal(`alert.${row.alert_id}.${step}`), {
          action: "alert",
          decision: "permit",
          patient: row.patient_account,
          resources: [`Flag/${row.alert_id}`],
          categories: READING_CATEGORIES,
          reason: `monitoring alert escalated to step ${step}`,
        });
        // another process may have escalated or an acknowledgement may have landed meanwhile
        const done = await this.#change(async (tx, announce) => {
          const updated = await tx
            .updateTable("monitoring_alerts")
            .set({ step, escalate_at: escalateAt })
            .where("alert_id", "=", row.alert_id)
            .where("step", "=", Number(row.step))
            .where("acked_at", "is", null)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) > 0) await announce("alert", row.alert_id, step);
          return updated;
        });
        if (Number(done.numUpdatedRows) === 0) continue;
        n++;
        const next = { ...row, step, escalate_at: escalateAt };
        await this.#deliver(next, viewOf(next, await this.#body(row)), settings.escalation, step, true);
      }
      return n;
    } catch (err) {
      this.#d.onError?.(err);
      return 0;
    } finally {
      this.#ticking = false;
    }
  }

  async #body(row: MonitoringAlertRow): Promise<AlertBody> {
    const plain = await decryptRecord(
      this.#d.keyring,
      patientKeyId(row.patient_id),
      row.blob,
      alertAad(row.alert_id),
    );
    return JSON.parse(Buffer.from(plain).toString("utf8")) as AlertBody;
  }
}

function alertAad(id: string): string {
  return `monitoring/alert/${id}`;
}

/** The first step of the chain that names this principal (by account, or by role), or -1. */
function firstStepNaming(chain: EscalationStep[], principal: Principal): number {
  if (principal.kind !== "practitioner") return -1;
  return chain.findIndex((s) =>
    "account" in s ? s.account.toLowerCase() === principal.account.toLowerCase() : s.role === principal.role,
  );
}

function viewOf(row: MonitoringAlertRow, body: AlertBody): AlertView {
  return {
    id: row.alert_id,
    patient: `Patient/${row.patient_id}`,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    triggers: body.triggers,
    ...(body.news2 ? { news2: body.news2 } : {}),
    step: Number(row.step),
    acknowledged:
      row.acked_at === null
        ? null
        : { at: new Date(Number(row.acked_at)).toISOString(), by: row.acked_by ?? "" },
  };
}
