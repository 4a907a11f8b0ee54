import type { DialectMigration } from "../migrate.js";
import { bigintType, serialType } from "../columns.js";

/** Node metadata, the ledger outbox, the indexer's mirror of participants and consents. */
export const foundation: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("meta")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("outbox")
      .addColumn("id", serialType(dialect), (c) =>
        dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn("idem_key", "text", (c) => c.notNull().unique())
      .addColumn("contract", "text", (c) => c.notNull())
      .addColumn("function_name", "text", (c) => c.notNull())
      .addColumn("args", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("sender_nonce", bigintType(dialect))
      .addColumn("tx_hash", "text")
      .addColumn("raw_tx", "text")
      .addColumn("block_number", bigintType(dialect))
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("last_error", "text")
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("updated_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema.createIndex("outbox_status").on("outbox").columns(["status", "id"]).execute();

    await db.schema
      .createTable("organizations")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("endpoint", "text", (c) => c.notNull())
      .addColumn("node_address", "text", (c) => c.notNull())
      .addColumn("active", "integer", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("practitioners")
      .addColumn("account", "text", (c) => c.notNull())
      .addColumn("org_id", "text", (c) => c.notNull())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("active", "integer", (c) => c.notNull())
      .addPrimaryKeyConstraint("practitioners_pk", ["account", "org_id"])
      .execute();

    await db.schema
      .createTable("patients")
      .addColumn("account", "text", (c) => c.primaryKey())
      .addColumn("registered_block", bigintType(dialect), (c) => c.notNull())
      .execute();

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
      .addColumn("nonce", "text", (c) => c.notNull())
      .addColumn("granted_block", bigintType(dialect), (c) => c.notNull())
      .addColumn("revoked_at", bigintType(dialect))
      .execute();
    await db.schema.createIndex("consent_grants_patient").on("consent_grants").column("patient").execute();
  },
};
