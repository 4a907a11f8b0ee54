import { randomUUID } from "node:crypto";
import { zeroAddress, type Address, type Hex } from "viem";
import type { Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import type { Auditor } from "../audit/auditor.js";
import { BREAK_GLASS_SECONDS, decide, type Decision, type DecisionRequest } from "./decide.js";
import type { GrantIndex } from "./grantIndex.js";
import { isSensitive, type Action, type Category } from "../model/vocabulary.js";

/** A patient's preferences the decision depends on. */
export interface PatientSettings {
  breakGlassAllowed: boolean;
  notify: { breakGlass: boolean; denials: boolean; reads: boolean };
}

export const DEFAULT_SETTINGS: PatientSettings = {
  breakGlassAllowed: false,
  notify: { breakGlass: true, denials: true, reads: false },
};

interface BreakGlassSession {
  id: string;
  reason: string;
  startedAt: number;
  expiresAt: number;
}

/** Decides, for one principal and one patient, on resources by their categories and author. */
export interface PatientDecider {
  readonly patientAccount: Address | undefined;
  decide(categories: readonly Category[], authorOrganization: string | undefined): Decision;
}

/**
 * The single entry point through which the records layer asks consent. It resolves what a
 * decision needs beyond the grant index (the patient's settings, an open break-glass session)
 * once per request, then calls `decide()` per category: a resource is permitted only when every
 * one of its categories is.
 */
export class ConsentGate {
  readonly #settings = new Map<string, PatientSettings>();
  readonly #breakGlass = new Map<string, BreakGlassSession>();

  constructor(
    readonly index: GrantIndex,
    private readonly store: Store,
    /** Where break-glass openings and refusals are audited. */
    private readonly auditor?: Auditor,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Loads settings and open break-glass sessions into memory (at start). */
  async load(): Promise<void> {
    for (const row of await this.store.db.selectFrom("patient_settings").selectAll().execute()) {
      this.#settings.set(row.account, {
        breakGlassAllowed: row.break_glass_allowed === 1,
        notify: JSON.parse(row.notify),
      });
    }
    const now = this.now();
    const open = await this.store.db
      .selectFrom("break_glass_sessions")
      .selectAll()
      .where("expires_at", ">", now)
      .execute();
    for (const row of open) {
      this.#breakGlass.set(sessionKey(row.practitioner, row.patient), {
        id: row.id,
        reason: row.reason,
        startedAt: row.started_at,
        expiresAt: row.expires_at,
      });
    }
  }

  /** The patient's settings (defaults when never set). */
  settings(patientAccount: string): PatientSettings {
    return this.#settings.get(patientAccount.toLowerCase()) ?? DEFAULT_SETTINGS;
  }

  /** Saves the patient's settings. */
  async saveSettings(patientAccount: string, settings: PatientSettings): Promise<void> {
    const account = patientAccount.toLowerCase();
    const row = {
      account,
      break_glass_allowed: settings.breakGlassAllowed ? 1 : 0,
      notify: JSON.stringify(settings.notify),
      updated_at: Date.now(),
    };
    await this.store.db
      .insertInto("patient_settings")
      .values(row)
      .onConflict((oc) =>
        oc.column("account").doUpdateSet({
          break_glass_allowed: row.break_glass_allowed,
          notify: row.notify,
          updated_at: row.updated_at,
        }),
      )
      .execute();
    this.#settings.set(account, settings);
  }

  /**
   * Opens a break-glass session for a practitioner on a patient, if the patient allows it; audits
   * the opening or the refusal and flags the patient at once.
   * @returns the session
   */
  async openBreakGlass(
    principal: Principal,
    patientAccount: Address,
    reason: string,
  ): Promise<{ id: string; expiresAt: number }> {
    let session: { id: string; expiresAt: number };
    try {
      session = await this.#openBreakGlass(principal, patientAccount, reason);
    } catch (error) {
      await this.#auditBreakGlass(
        principal,
        patientAccount,
        "deny",
        error instanceof BaseError ? error.message.slice(0, 200) : "refused",
      );
      throw error;
    }
    await this.#auditBreakGlass(principal, patientAccount, "permit", "break-glass session opened");
    await this.notify(patientAccount, "break-glass", {
      by: principal.account,
      organization: principal.organization ?? null,
      expiresAt: session.expiresAt,
    });
    return session;
  }

  async #auditBreakGlass(
    principal: Principal,
    patient: Address,
    decision: "permit" | "deny",
    reason: string,
  ): Promise<void> {
    await this.auditor?.record(principal, { action: "break-glass", decision, patient, reason });
  }

  async #openBreakGlass(
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
    if (!this.settings(patientAccount).breakGlassAllowed) {
      throw new BaseError("forbidden", "the patient does not allow break-glass access");
    }
    const startedAt = this.now();
    const session: BreakGlassSession = {
      id: randomUUID(),
      reason,
      startedAt,
      expiresAt: startedAt + BREAK_GLASS_SECONDS,
    };
    await this.store.db
      .insertInto("break_glass_sessions")
      .values({
        id: session.id,
        practitioner: principal.account.toLowerCase(),
        organization: principal.organization ?? null,
        patient: patientAccount.toLowerCase(),
        reason,
        started_at: session.startedAt,
        expires_at: session.expiresAt,
      })
      .execute();
    this.#breakGlass.set(sessionKey(principal.account, patientAccount), session);
    return { id: session.id, expiresAt: session.expiresAt };
  }

  /** Records a notification for the patient (break-glass flags are written at once). */
  async notify(patientAccount: string, kind: string, payload: Record<string, unknown>): Promise<void> {
    await this.store.db
      .insertInto("notifications")
      .values({
        id: randomUUID(),
        account: patientAccount.toLowerCase(),
        kind,
        payload: JSON.stringify(payload),
        created_at: Date.now(),
        read_at: null,
      })
      .execute();
  }

  /** The patient's notifications, newest first. */
  async notifications(
    account: string,
    limit = 100,
  ): Promise<Array<{ id: string; kind: string; createdAt: string; detail: unknown }>> {
    const rows = await this.store.db
      .selectFrom("notifications")
      .selectAll()
      .where("account", "=", account.toLowerCase())
      .orderBy("created_at", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      createdAt: new Date(r.created_at).toISOString(),
      detail: JSON.parse(r.payload) as unknown,
    }));
  }

  /**
   * A decider for `principal` on the patient whose account is `patientAccount` (undefined when the
   * record has no linked account: then only its authoring organization and system jobs may act).
   */
  forPatient(principal: Principal, patientAccount: Address | undefined, action: Action): PatientDecider {
    const session = patientAccount
      ? this.#breakGlass.get(sessionKey(principal.account, patientAccount))
      : undefined;
    const settings = patientAccount ? this.settings(patientAccount) : DEFAULT_SETTINGS;
    return new Decider(this.index, patientAccount, {
      principal: {
        account: principal.account,
        organization: principal.organization,
        role: principal.role,
        kind: principal.kind,
      },
      patient: patientAccount ?? zeroAddress,
      purpose: principal.purpose,
      action,
      time: this.now(),
      breakGlass: session
        ? {
            allowedByPatient: settings.breakGlassAllowed,
            reason: session.reason,
            startedAt: session.startedAt,
          }
        : undefined,
    });
  }
}

/** What one request's decisions share: all of a `DecisionRequest` but the category and author. */
type RequestTemplate = Omit<DecisionRequest, "category" | "authorOrganization">;

/**
 * One request's decider. A class, not an object of closures: the node runs through tsx, whose
 * keep-names transform gives every closure created per call a `defineProperty` of its name.
 */
class Decider implements PatientDecider {
  readonly #memo = new Map<string, Decision>();

  constructor(
    private readonly index: GrantIndex,
    readonly patientAccount: Address | undefined,
    private readonly request: RequestTemplate,
  ) {}

  decide(categories: readonly Category[], authorOrganization: string | undefined): Decision {
    if (this.request.principal.kind === "system") return { permit: true, reason: "patient-self" };
    const key = `${categories.join(",")}|${authorOrganization ?? ""}`;
    const cached = this.#memo.get(key);
    if (cached) return cached;
    const result = combine(categories, this, authorOrganization as Hex | undefined);
    this.#memo.set(key, result);
    return result;
  }

  /** The decision on one category. */
  one(category: Category, authorOrganization: Hex | undefined): Decision {
    // A literal, not a spread of the template: the spread took the runtime's slow path, and was
    // most of a read's consent time.
    const r = this.request;
    return decide(this.index, {
      principal: r.principal,
      patient: r.patient,
      category,
      purpose: r.purpose,
      action: r.action,
      time: r.time,
      authorOrganization,
      breakGlass: r.breakGlass,
    });
  }
}

/**
 * A resource's categories combine so: every sensitive category must be permitted on its own (a
 * sensitive category is never implied), and among the ordinary ones any one permitted is enough
 * (they are facets of one record: a lab DiagnosticReport is labs and notes).
 */
function combine(categories: readonly Category[], decider: Decider, author: Hex | undefined): Decision {
  let ordinary: Decision | undefined;
  let sensitive: Decision | undefined;
  for (const category of categories) {
    if (isSensitive(category)) {
      const d = decider.one(category, author);
      if (!d.permit) return d;
      sensitive ??= d;
    } else if (!ordinary?.permit) {
      const d = decider.one(category, author);
      if (d.permit || ordinary === undefined) ordinary = d;
    }
  }
  if (ordinary && !ordinary.permit) return ordinary;
  return ordinary ?? sensitive ?? { permit: false, reason: "no-grant" };
}

function sessionKey(practitioner: string, patient: string): string {
  return `${practitioner.toLowerCase()}|${patient.toLowerCase()}`;
}
