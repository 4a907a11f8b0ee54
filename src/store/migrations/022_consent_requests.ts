import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * Access requests (src/consent/consentRequests.ts): a practitioner asks a patient for a grant.
 * The proposed terms and the message are sealed under the patient's key (`terms`), so the
 * database at rest does not say which categories anyone asked about; the requester, the patient
 * and the state are in clear, for the lists.
 */
export const consentRequests: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    await db.schema
      .createTable("consent_requests")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("requester", "text", (c) => c.notNull())
      .addColumn("organization", "text", (c) => c.notNull())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("terms", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("grant_id", "text")
      .addColumn("created_at", bigint, (c) => c.notNull())
      .addColumn("answered_at", bigint)
      .execute();
    await db.schema
      .createIndex("consent_requests_patient")
      .on("consent_requests")
      .columns(["patient", "created_at"])
      .execute();
    await db.schema
      .createIndex("consent_requests_requester")
      .on("consent_requests")
      .columns(["requester", "created_at"])
      .execute();
  },
};
