/**
 * Tells patients who asked for it about accesses to their record (`notify.reads`) and refusals
 * (`notify.denials`), from the audit entries as they are recorded: every room records through the
 * one Auditor, so nothing that reads a record can skip it. Entries are grouped by patient,
 * request and actor, so a `$everything` or a search of two hundred resources is one notification,
 * sent when the request has been quiet for `quietMs` (or after `maxMs`): an `access` when the
 * request showed anything (with the count of what consent withheld), else a `denial`.
 *
 * The hot path (one call per audit entry) is a few comparisons: reads, and what consent withheld
 * from a request that showed something, are looked at only for patients who opted in to reads
 * (when none has, nothing more is done); a refusal only for those who did not opt out of denials.
 * The notifier keeps those accounts in memory (reloaded when any patient's settings change,
 * through the shared "break-glass" version).
 * A notification names the request, who acted (account, organization, role), under which purpose,
 * and how many resources; never categories or resource ids, which stay in the patient's access
 * log (`/audit/me`), where the request id finds them. Notifications are a convenience: a batch
 * still in memory when the process dies is not sent; the access log has every entry.
 */
import type { Logger } from "pino";
import type { AuditEntry } from "../audit/auditEntry.js";
import { ADDRESS_PATTERN } from "../model/schemas.js";
import type { Kysely } from "kysely";
import type { Schema } from "../store/schema.js";
import type { SharedState } from "../store/sharedState.js";
import { DEFAULT_SETTINGS, type PatientSettings } from "./patientSettings.js";
import type { PatientNotifications } from "./notifications.js";

/** The notification kinds this notifier sends. */
export type AccessNotificationKind = "access" | "denial";

/** The reason of what consent withheld from a search or export that showed the patient something. */
const PARTLY_RE = /^(?:search|export) partly: /;

/** Audit actions that show a patient's data to someone (break-glass reads have their own alert). */
const READ_ACTIONS = new Set<string>(["read", "search", "export", "fetch", "release", "share"]);

export interface AccessNotifierDeps {
  db: Kysely<Schema>;
  notifications: Pick<PatientNotifications, "notify">;
  logger?: Pick<Logger, "warn">;
  /** A group is sent once its request has been quiet this long (1 s). */
  quietMs?: number;
  /** ...or this long after its first entry, whichever comes first (10 s). */
  maxMs?: number;
}

/** The entries of one request by one actor about one patient. */
interface Batch {
  patient: string;
  requestId: string;
  actor: AuditEntry["actor"];
  purpose: string | undefined;
  /** The actions that showed something (read, search, export...). */
  actions: Set<string>;
  /** Resources shown. */
  shown: number;
  permits: number;
  /** Refusals, and what consent withheld from a search or export. */
  refusals: number;
  first: number;
  last: number;
}

export class AccessNotifier {
  readonly #d: AccessNotifierDeps;
  readonly #quietMs: number;
  readonly #maxMs: number;
  /** Accounts that asked for read notifications (off by default). */
  #readsOn = new Set<string>();
  /** Accounts that turned denial notifications off (on by default). */
  #denialsOff = new Set<string>();
  readonly #batches = new Map<string, Batch>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(deps: AccessNotifierDeps) {
    this.#d = deps;
    this.#quietMs = deps.quietMs ?? 1_000;
    this.#maxMs = deps.maxMs ?? 10_000;
  }

  /** Loads the opted-in accounts, and reloads them whenever a patient's settings change. */
  async start(shared?: SharedState): Promise<void> {
    await this.reload();
    shared?.on("break-glass", () => this.reload());
  }

  /** Reads every patient's notification choices that differ from the defaults. */
  async reload(): Promise<void> {
    const rows = await this.#d.db.selectFrom("patient_settings").select(["account", "notify"]).execute();
    const readsOn = new Set<string>();
    const denialsOff = new Set<string>();
    for (const row of rows) {
      const notify = { ...DEFAULT_SETTINGS.notify, ...(JSON.parse(row.notify) as PatientSettings["notify"]) };
      if (notify.reads) readsOn.add(row.account.toLowerCase());
      if (!notify.denials) denialsOff.add(row.account.toLowerCase());
    }
    this.#readsOn = readsOn;
    this.#denialsOff = denialsOff;
  }

  /** Called for every recorded audit entry (src/audit/auditor.ts `observe`). */
  readonly observe = (entry: Readonly<AuditEntry>): void => {
    const patient = entry.patient;
    if (patient === undefined || patient.charCodeAt(0) !== 48 /* "0" */) return;
    const refused = entry.decision === "deny";
    // what consent withheld from a request that showed the patient something is part of an access
    const withheld = refused && PARTLY_RE.test(entry.reason ?? "");
    if ((!refused || withheld) && this.#readsOn.size === 0) return;
    if (!refused && !READ_ACTIONS.has(entry.action)) return;
    const account = patient.toLowerCase();
    if (refused && !withheld ? this.#denialsOff.has(account) : !this.#readsOn.has(account)) return;
    // a patient's own use of their record is not news to them
    if (entry.actor.account.toLowerCase() === account || !ADDRESS_PATTERN.test(patient)) return;
    const key = `${account}|${entry.requestId}|${entry.actor.account}`;
    const now = Date.now();
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = {
        patient: account,
        requestId: entry.requestId,
        actor: entry.actor,
        purpose: entry.purpose,
        actions: new Set(),
        shown: 0,
        permits: 0,
        refusals: 0,
        first: now,
        last: now,
      };
      this.#batches.set(key, batch);
    }
    if (refused) batch.refusals++;
    else {
      batch.permits++;
      batch.actions.add(entry.action);
      batch.shown += entry.resources?.length ?? 0;
    }
    batch.last = now;
    this.#timer ??= setInterval(() => void this.#sweep(false), Math.max(50, this.#quietMs / 4)).unref();
  };

  /** Sends every pending group now (at shutdown, and in tests). */
  flush(): Promise<void> {
    return this.#sweep(true);
  }

  /** Sends what is pending and stops the sweep timer. */
  async stop(): Promise<void> {
    await this.flush();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(all: boolean): Promise<void> {
    const now = Date.now();
    const due: Batch[] = [];
    for (const [key, b] of this.#batches) {
      if (all || now - b.last >= this.#quietMs || now - b.first >= this.#maxMs) {
        due.push(b);
        this.#batches.delete(key);
      }
    }
    if (this.#batches.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    if (due.length === 0) return this.#flushing;
    this.#flushing = this.#flushing.then(() => this.#send(due));
    return this.#flushing;
  }

  async #send(batches: Batch[]): Promise<void> {
    for (const b of batches) {
      // a request that showed anything is an access (with what consent withheld), else a refusal
      const kind: AccessNotificationKind = b.permits > 0 ? "access" : "denial";
      if (kind === "access" ? !this.#readsOn.has(b.patient) : this.#denialsOff.has(b.patient)) continue;
      const detail = {
        requestId: b.requestId,
        by: b.actor.account,
        organization: b.actor.organization ?? null,
        role: b.actor.role ?? null,
        purpose: b.purpose ?? null,
        actions: [...b.actions].sort(),
        resources: b.shown,
        refusals: b.refusals,
        from: new Date(b.first).toISOString(),
        until: new Date(b.last).toISOString(),
      };
      try {
        await this.#d.notifications.notify(b.patient, kind, detail);
      } catch (err) {
        this.#d.logger?.warn({ err, kind }, "could not store an access notification");
      }
    }
  }
}
