import type { Kysely } from "kysely";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { Schema } from "../store/schema.js";
import { bumpVersion, type SharedState } from "../store/sharedState.js";

/** A patient's preferences the decision and the notifications depend on. */
export interface PatientSettings {
  breakGlassAllowed: boolean;
  notify: { breakGlass: boolean; denials: boolean; reads: boolean };
}

export const DEFAULT_SETTINGS: PatientSettings = {
  breakGlassAllowed: false,
  notify: { breakGlass: true, denials: true, reads: false },
};

/**
 * Patients' settings in `patient_settings`, read from the database at each use (settings pages and
 * break-glass openings: rare, and then exact whichever process saved them). The decision's hot
 * path reads only `breakGlassAllowed`, and only through an open break-glass session, which carries
 * it (see {@link BreakGlassSessions}): a save takes the next "break-glass" version.
 */
export class PatientSettingsStore {
  constructor(
    private readonly db: Kysely<Schema>,
    /** Rechecked after a save, so this process's open sessions carry the new permission at once. */
    private readonly state?: SharedState,
  ) {}

  /** The patient's settings (defaults when never set). */
  async get(patientAccount: string): Promise<PatientSettings> {
    const row = await this.db
      .selectFrom("patient_settings")
      .select(["break_glass_allowed", "notify"])
      .where("account", "=", patientAccount.toLowerCase())
      .executeTakeFirst();
    if (!row) return DEFAULT_SETTINGS;
    return {
      breakGlassAllowed: Number(row.break_glass_allowed) === 1,
      notify: JSON.parse(row.notify) as PatientSettings["notify"],
    };
  }

  /** Saves the patient's settings. */
  async save(patientAccount: string, settings: PatientSettings): Promise<void> {
    const row = {
      account: patientAccount.toLowerCase(),
      break_glass_allowed: settings.breakGlassAllowed ? 1 : 0,
      notify: JSON.stringify(settings.notify),
      updated_at: Date.now(),
    };
    await this.db.transaction().execute(async (tx) => {
      await tx
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
      await bumpVersion(tx, "break-glass");
    });
    await this.state?.refresh();
  }

  /** The caller's own privacy settings; only patients have them. */
  async ownSettings(principal: Principal): Promise<PatientSettings> {
    requirePatient(principal);
    return this.get(principal.account);
  }

  /** Changes the caller's own privacy settings (notification choices kept when not given). */
  async changeOwnSettings(
    principal: Principal,
    change: { breakGlassAllowed: boolean; notify?: PatientSettings["notify"] | undefined },
  ): Promise<PatientSettings> {
    requirePatient(principal);
    const next = {
      breakGlassAllowed: change.breakGlassAllowed,
      notify: change.notify ?? (await this.get(principal.account)).notify,
    };
    await this.save(principal.account, next);
    return next;
  }
}

function requirePatient(principal: Principal): void {
  if (principal.kind !== "patient") throw new BaseError("forbidden", "only patients have privacy settings");
}
