import type { DialectMigration } from "../migrate.js";
import { bigintType, serialType } from "../columns.js";

/**
 * Scenario 3, part B: subscriptions to a patient's new data (with their stored event sequence for
 * Server-Sent Events resume), a durable queue of outgoing HTTP pushes (REST hooks, referral
 * notices) and referrals between organizations.
 */
export const subscriptions: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("subscriptions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("subscriber", "text", (c) => c.notNull())
      .addColumn("subscriber_kind", "text", (c) => c.notNull())
      .addColumn("organization", "text")
      .addColumn("role", "text")
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("categories", bigintType(dialect), (c) => c.notNull())
      .addColumn("channel", "text", (c) => c.notNull())
      .addColumn("endpoint", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("end_reason", "text")
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("ended_at", bigintType(dialect))
      .execute();
    await db.schema
      .createIndex("subscriptions_patient")
      .on("subscriptions")
      .columns(["patient", "status"])
      .execute();
    await db.schema
      .createIndex("subscriptions_subscriber")
      .on("subscriptions")
      .column("subscriber")
      .execute();

    await db.schema
      .createTable("subscription_events")
      .addColumn("seq", serialType(dialect), (c) =>
        dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn("subscription_id", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("reference", "text")
      .addColumn("categories", bigintType(dialect), (c) => c.notNull())
      .addColumn("detail", "text")
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("subscription_events_sub")
      .on("subscription_events")
      .columns(["subscription_id", "seq"])
      .execute();

    await db.schema
      .createTable("push_deliveries")
      .addColumn("id", serialType(dialect), (c) =>
        dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn("idem_key", "text", (c) => c.notNull().unique())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("url", "text", (c) => c.notNull())
      .addColumn("body", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull())
      .addColumn("next_attempt_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("last_error", "text")
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("updated_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("push_deliveries_due")
      .on("push_deliveries")
      .columns(["status", "next_attempt_at"])
      .execute();

    await db.schema
      .createTable("referrals")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("direction", "text", (c) => c.notNull())
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("from_org", "text", (c) => c.notNull())
      .addColumn("to_org", "text", (c) => c.notNull())
      .addColumn("requester", "text", (c) => c.notNull())
      .addColumn("categories", bigintType(dialect), (c) => c.notNull())
      .addColumn("reason_code", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("grant_id", "text")
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("updated_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema.createIndex("referrals_patient").on("referrals").columns(["patient", "status"]).execute();
    await db.schema.createIndex("referrals_from").on("referrals").column("from_org").execute();
    await db.schema.createIndex("referrals_to").on("referrals").column("to_org").execute();
  },
};
