import type { DialectMigration } from "../migrate.js";
import { bigintType, serialType } from "../columns.js";

/**
 * CDS Hooks (src/guidance): the CDS clients (EHRs) the operator trusts, by JWT issuer with their
 * public JWK Set; the JWT ids already seen until they expire (replay refusal shared by every API
 * process); and the feedback clients send on cards.
 */
export const cdsHooks: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    await db.schema
      .createTable("cds_clients")
      .addColumn("iss", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("jwks", "text", (c) => c.notNull())
      .addColumn("created_at", bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("cds_jwt_ids")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("expires_at", bigint, (c) => c.notNull())
      .execute();
    await db.schema.createIndex("cds_jwt_ids_expiry").on("cds_jwt_ids").column("expires_at").execute();
    await db.schema
      .createTable("cds_feedback")
      .addColumn("id", serialType(dialect), (c) =>
        dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn("service", "text", (c) => c.notNull())
      .addColumn("iss", "text", (c) => c.notNull())
      .addColumn("card", "text", (c) => c.notNull())
      .addColumn("outcome", "text", (c) => c.notNull())
      .addColumn("suggestions", "text", (c) => c.notNull())
      .addColumn("override_reason", "text")
      .addColumn("outcome_at", "text", (c) => c.notNull())
      .addColumn("received_at", bigint, (c) => c.notNull())
      .execute();
  },
};
