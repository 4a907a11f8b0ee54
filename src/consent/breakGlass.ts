import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Address } from "viem";
import type { Auditor } from "../audit/auditor.js";
import { decryptRecord, encryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
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
  /**
   * Seals each stated reason under a key of the patient's account, so the reason is unreadable at
   * rest and gone for good when the patient erases their record (without it: kept in clear).
   */
  keyring?: PatientKeyring | undefined;
  /** Unix seconds. */
  now?: () => number;
}

/**
 * Emergency (break-the-glass) sessions of practitioners on patients, in `break_glass_sessions`.
 * Opening one checks the patient's settings in the database, audits the opening or the refusal
 * and flags the patient. The open sessions, each with the patient's current permission, are held
 * in memory for the decision's hot path and reloaded whenever the "break-glass" version moves
 * (an opening, a settings change or an erasure, in any process; see {@link follow}). The stated
 * reason is kept for accountability, sealed under a key of the patient's account (AES-256-GCM, as
 * records are), until the patient erases their record, which shreds that key, blanks the reason
 * and ends their open sessions.
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
        reason: await this.#unseal(row.patient, row.reason, row.started_at),
        startedAt: Number(row.started_at),
      });
    }
    this.#open = open;
  }

  /**
   * Seals the reasons stored in clear (by a node without a keyring, or before reasons were sealed).
   * @returns how many were sealed
   */
  async sealStoredReasons(): Promise<number> {
    if (this.#d.keyring === undefined) return 0;
    const rows = await this.#d.db
      .selectFrom("break_glass_sessions")
      .select(["id", "patient", "reason", "started_at"])
      .where("reason", "not like", `${SEALED}%`)
      .where("reason", "!=", "")
      .execute();
    for (const row of rows) {
      const sealed = await this.#seal(row.patient, row.reason, row.started_at);
      await this.#d.db
        .updateTable("break_glass_sessions")
        .set({ reason: sealed })
        .where("id", "=", row.id)
        .where("reason", "=", row.reason)
        .execute();
    }
    return rows.length;
  }

  /** The reason as stored: sealed under the patient account's key (bound to the session). */
  async #seal(patient: string, reason: string, startedAt: number): Promise<string> {
    const keyring = this.#d.keyring;
    if (keyring === undefined) return reason;
    const { ciphertext } = await encryptRecord(
      keyring,
      patient.toLowerCase(),
      Buffer.from(reason, "utf8"),
      reasonAad(patient, startedAt),
    );
    return `${SEALED}${Buffer.from(ciphertext).toString("base64")}`;
  }

  async #unseal(patient: string, stored: string, startedAt: number): Promise<string> {
    if (!stored.startsWith(SEALED) || this.#d.keyring === undefined) return stored;
    try {
      const bytes = Buffer.from(stored.slice(SEALED.length), "base64");
      const plain = await decryptRecord(
        this.#d.keyring,
        patient.toLowerCase(),
        bytes,
        reasonAad(patient, startedAt),
      );
      return Buffer.from(plain).toString("utf8");
    } catch {
      // the patient's key is gone (erased): the reason is too
      return "";
    }
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
    if ((await this.#d.settings.get(patientAccount)).notify.breakGlass)
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
    await this.#d.keyring?.erase(patientAccount.toLowerCase());
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
    // sealed outside the transaction: the keyring reads (and may create) the key on its own connection
    const sealed = await this.#seal(patientAccount, reason, startedAt);
    await this.#d.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("break_glass_sessions")
        .values({
          id: session.id,
          practitioner: principal.account.toLowerCase(),
          organization: principal.organization ?? null,
          patient: patientAccount.toLowerCase(),
          reason: sealed,
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

/** Marks a sealed reason: base64 of the envelope (src/crypto/envelope.ts). */
const SEALED = "sealed:v1:";

/** What a sealed reason is bound to: its patient and session start, so it cannot be moved to another row. */
function reasonAad(patient: string, startedAt: number): string {
  return `break-glass/${patient.toLowerCase()}/${Number(startedAt)}`;
}

function sessionKey(practitioner: string, patient: string): string {
  return `${practitioner.toLowerCase()}|${patient.toLowerCase()}`;
}
