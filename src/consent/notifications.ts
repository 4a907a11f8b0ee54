import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Schema } from "../store/schema.js";

/** One notification as the patient sees it. */
export interface PatientNotification {
  id: string;
  kind: string;
  createdAt: string;
  detail: unknown;
}

/**
 * Notifications for patients (break-glass flags, denials, referrals) in `notifications`: written
 * at once, read from the database, so every process sees every other's.
 */
export class PatientNotifications {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Records a notification for the patient (or an organization, for referrals). */
  async notify(account: string, kind: string, payload: Record<string, unknown>): Promise<void> {
    await this.db
      .insertInto("notifications")
      .values({
        id: randomUUID(),
        account: account.toLowerCase(),
        kind,
        payload: JSON.stringify(payload),
        created_at: Date.now(),
        read_at: null,
      })
      .execute();
  }

  /** The account's notifications, newest first. */
  async list(account: string, limit = 100): Promise<PatientNotification[]> {
    const rows = await this.db
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
}
