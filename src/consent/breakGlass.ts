import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Address } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import type { Schema } from "../store/schema.js";
import { bumpVersion, type SharedState } from "../store/sharedState.js";
import { BREAK_GLASS_SECONDS, type BreakGlassRequest } from "./decide.js";
import type { PatientNotifications } from "./notifications.js";
import type { PatientSettingsStore } from "./patientSettings.js";

export interface BreakGlassDeps {
  db: Kysely<Schema>;
  settings: PatientSettingsStore;
  notifications: PatientNotifications;
  /** Where openings and refusals are audited. */
  audit?: Pick<Auditor, "record"> | undefined;
  /** Unix seconds. */
  now?: () => number;
}

/**
 * Emergency (break-the-glass) sessions of practitioners on patients, in `break_glass_sessions`.
 * Opening one checks the patient's settings in the database, audits the opening or the refusal
 * and flags the patient. The open sessions, each with the patient's current permission, are held
 * in memory for the decision's hot path and reloaded whenever the "break-glass" version moves
 * (an opening, a settings change or an erasure, in any process; see {@link follow}). The stated
 * reason is kept for accountability until the patient erases their record, which removes it and
 * ends their open sessions.
 */
export class BreakGlassSessions {
  readonly #d: BreakGlassDeps;
  readonly #now: () => number;
  /** Open sessions by `practitioner|patient`, rebuilt at each reload. */
  #open = new Map<string, BreakGlassRequest>();

  constructor(deps: BreakGlassDeps) {
    this.#d = deps;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Reloads the open sessions whenever another process (or this one) changes them. */
  follow(state: SharedState): void {
    state.on("break-glass", () => this.reload());
  }

  /** Reads the open sessions and their patients' permission from the database. */
  async reload(): Promise<void> {
    const rows = await this.#d.db
      .selectFrom("break_glass_sessions as s")
      .leftJoin("patient_settings as p", "p.account", "s.patient")
      .select(["s.practitioner", "s.patient", "s.reason", "s.started_at", "p.break_glass_allowed"])
      .where("s.expires_at", ">", this.#now())
      .orderBy("s.started_at")
      .execute();
    const open = new Map<string, BreakGlassRequest>();
    for (const row of rows) {
      open.set(sessionKey(row.practitioner, row.patient), {
        allowedByPatient: Number(row.break_glass_allowed ?? 0) === 1,
        reason: row.reason,
        startedAt: Number(row.started_at),
      });
    }
    this.#open = open;
  }

  /** The practitioner's open session on the patient, as the decision takes it (no database read). */
  active(practitioner: string, patientAccount: string): BreakGlassRequest | undefined {
    return this.#open.get(sessionKey(practitioner, patientAccount));
  }

  /**
   * Opens a break-glass session for a practitioner on a patient, if the patient allows it; audits
   * the opening or the refusal and flags the patient at once.
   * @returns the session
   */
  async open(
    principal: Principal,
    patientAccount: Address,
    reason: string,
  ): Promise<{ id: string; expiresAt: number }> {
    let session: { id: string; expiresAt: number };
    try {
      session = await this.#open1(principal, patientAccount, reason);
    } catch (error) {
      await this.#audit(
        principal,
        patientAccount,
        "deny",
        error instanceof BaseError ? error.message.slice(0, 200) : "refused",
      );
      throw error;
    }
    await this.#audit(principal, patientAccount, "permit", "break-glass session opened");
    await this.#d.notifications.notify(patientAccount, "break-glass", {
      by: principal.account,
      organization: principal.organization ?? null,
      expiresAt: session.expiresAt,
    });
    return session;
  }

  /**
   * Removes the stated reasons of the patient's sessions and ends those still open (the patient
   * erased their record).
   */
  async forgetPatient(patientAccount: string): Promise<void> {
    const now = this.#now();
    await this.#d.db.transaction().execute(async (tx) => {
      await tx
        .updateTable("break_glass_sessions")
        .set({ reason: "" })
        .where("patient", "=", patientAccount.toLowerCase())
        .execute();
      await tx
        .updateTable("break_glass_sessions")
        .set({ expires_at: now })
        .where("patient", "=", patientAccount.toLowerCase())
        .where("expires_at", ">", now)
        .execute();
      await bumpVersion(tx, "break-glass");
    });
    await this.reload();
  }

  async #open1(
    principal: Principal,
    patientAccount: Address,
    reason: string,
  ): Promise<{ id: string; expiresAt: number }> {
    if (principal.kind !== "practitioner")
      throw new BaseError("forbidden", "only practitioners can break the glass");
    if (principal.purpose !== "ETREAT")
      throw new BaseError("forbidden", "break-glass requires purpose of use ETREAT");
    if (reason.trim().length < 3)
      throw new BaseError("invalid", "break-glass requires a stated reason", { expression: "reason" });
    if (!(await this.#d.settings.get(patientAccount)).breakGlassAllowed)
      throw new BaseError("forbidden", "the patient does not allow break-glass access");
    const startedAt = this.#now();
    const session = { id: randomUUID(), expiresAt: startedAt + BREAK_GLASS_SECONDS };
    await this.#d.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("break_glass_sessions")
        .values({
          id: session.id,
          practitioner: principal.account.toLowerCase(),
          organization: principal.organization ?? null,
          patient: patientAccount.toLowerCase(),
          reason,
          started_at: startedAt,
          expires_at: session.expiresAt,
        })
        .execute();
      await bumpVersion(tx, "break-glass");
    });
    await this.reload();
    return session;
  }

  async #audit(
    principal: Principal,
    patient: Address,
    decision: "permit" | "deny",
    reason: string,
  ): Promise<void> {
    await this.#d.audit?.record(principal, { action: "break-glass", decision, patient, reason });
  }
}

function sessionKey(practitioner: string, patient: string): string {
  return `${practitioner.toLowerCase()}|${patient.toLowerCase()}`;
}
