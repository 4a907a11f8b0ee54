import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * ConsentRegistry version 2 records only a commitment to each grant (its id, patient and
 * revocation); the terms reach a node off the ledger, signed by the patient. `consent_grants`
 * keeps the signed terms (salt and signature, so the node can pass them on) and `confirmed_at`,
 * the time the ledger recorded the commitment: null while terms this node relays are not yet
 * mined, and only confirmed grants are indexed. The grants mirrored from the first registry are
 * dropped: their signatures do not hold on the current one, and their terms stay public on the
 * ledger that recorded them.
 */
export const consentCommitments: DialectMigration = {
  async up(db, dialect) {
    await db.schema.dropTable("consent_grants").execute();
    await db.schema
      .createTable("consent_grants")
      .addColumn("grant_id", "text", (c) => c.primaryKey())
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("grantee_kind", "text", (c) => c.notNull())
      .addColumn("grantee", "text", (c) => c.notNull())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("categories", bigintType(dialect), (c) => c.notNull())
      .addColumn("purposes", bigintType(dialect), (c) => c.notNull())
      .addColumn("actions", "integer", (c) => c.notNull())
      .addColumn("not_before", bigintType(dialect), (c) => c.notNull())
      .addColumn("not_after", bigintType(dialect), (c) => c.notNull())
      .addColumn("salt", "text", (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .addColumn("relayed_here", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("confirmed_at", bigintType(dialect))
      .addColumn("revoked_at", bigintType(dialect))
      .addColumn("changed_seq", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex("consent_grants_patient").on("consent_grants").column("patient").execute();
    await db.schema
      .createIndex("consent_grants_changed_seq")
      .on("consent_grants")
      .column("changed_seq")
      .execute();
  },
};
