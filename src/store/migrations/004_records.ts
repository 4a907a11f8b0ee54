import type { DialectMigration } from "../migrate.js";
import { bigintType, bytesType } from "../columns.js";

/**
 * The encrypted FHIR record store (src/records): every version of every resource as an encrypted
 * blob, the current version of each, a blind search index (HMAC tokens, date ranges), and the
 * link between a FHIR Patient and the patient's ledger account.
 */
export const records: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("resource_versions")
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("id", "text", (c) => c.notNull())
      .addColumn("version_id", "integer", (c) => c.notNull())
      .addColumn("patient_id", "text")
      .addColumn("categories", bigintType(dialect), (c) => c.notNull())
      .addColumn("author_org", "text", (c) => c.notNull())
      .addColumn("author", "text", (c) => c.notNull())
      .addColumn("last_updated", bigintType(dialect), (c) => c.notNull())
      .addColumn("deleted", "integer", (c) => c.notNull())
      .addColumn("content_hash", "text", (c) => c.notNull())
      .addColumn("blob", bytesType(dialect))
      .addPrimaryKeyConstraint("resource_versions_pk", ["type", "id", "version_id"])
      .execute();

    await db.schema
      .createTable("resources")
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("id", "text", (c) => c.notNull())
      .addColumn("version_id", "integer", (c) => c.notNull())
      .addColumn("patient_id", "text")
      .addColumn("categories", bigintType(dialect), (c) => c.notNull())
      .addColumn("author_org", "text", (c) => c.notNull())
      .addColumn("last_updated", bigintType(dialect), (c) => c.notNull())
      .addColumn("deleted", "integer", (c) => c.notNull())
      .addColumn("sort_date", bigintType(dialect))
      .addPrimaryKeyConstraint("resources_pk", ["type", "id"])
      .execute();
    await db.schema
      .createIndex("resources_patient")
      .on("resources")
      .columns(["patient_id", "type", "last_updated"])
      .execute();
    await db.schema
      .createIndex("resources_type_updated")
      .on("resources")
      .columns(["type", "last_updated"])
      .execute();

    await db.schema
      .createTable("search_tokens")
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("id", "text", (c) => c.notNull())
      .addColumn("param", "text", (c) => c.notNull())
      .addColumn("token", "text")
      .addColumn("start_ms", bigintType(dialect))
      .addColumn("end_ms", bigintType(dialect))
      .execute();
    await db.schema
      .createIndex("search_tokens_lookup")
      .on("search_tokens")
      .columns(["type", "param", "token", "id"])
      .execute();
    await db.schema
      .createIndex("search_tokens_resource")
      .on("search_tokens")
      .columns(["type", "id"])
      .execute();

    await db.schema
      .createTable("patient_links")
      .addColumn("patient_id", "text", (c) => c.primaryKey())
      .addColumn("account", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("patient_links_account").on("patient_links").column("account").execute();

    await db.schema
      .createTable("patient_settings")
      .addColumn("account", "text", (c) => c.primaryKey())
      .addColumn("break_glass_allowed", "integer", (c) => c.notNull())
      .addColumn("notify", "text", (c) => c.notNull())
      .addColumn("updated_at", bigintType(dialect), (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("break_glass_sessions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("practitioner", "text", (c) => c.notNull())
      .addColumn("organization", "text")
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("started_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("expires_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("break_glass_lookup")
      .on("break_glass_sessions")
      .columns(["practitioner", "patient"])
      .execute();

    await db.schema
      .createTable("notifications")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("read_at", bigintType(dialect))
      .execute();
    await db.schema
      .createIndex("notifications_account")
      .on("notifications")
      .columns(["account", "created_at"])
      .execute();
  },
};
