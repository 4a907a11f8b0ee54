import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * Delivery of monitoring alerts beyond one process's live streams (docs/monitoring.md, "Alerts"):
 * the REST hooks clinicians register for their alerts (`monitoring_alert_hooks`: the owner as the
 * consent decision needs them, and the URL), and the alert events every API process of the
 * organization follows (`monitoring_alert_events`: raised, escalated, acknowledged; `seq` is the
 * version of `monitoring-alerts` in `state_versions` the event was written with, so "events since
 * version v" misses nothing, as for the other shared state of src/store/sharedState.ts).
 */
export const monitoringDelivery: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    await db.schema
      .createTable("monitoring_alert_hooks")
      .addColumn("hook_id", "text", (c) => c.primaryKey())
      .addColumn("owner_account", "text", (c) => c.notNull())
      .addColumn("owner_role", "text", (c) => c.notNull())
      .addColumn("owner_organization", "text", (c) => c.notNull())
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("url", "text", (c) => c.notNull())
      .addColumn("created_at", bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("monitoring_alert_hooks_owner")
      .on("monitoring_alert_hooks")
      .column("owner_account")
      .execute();
    await db.schema
      .createTable("monitoring_alert_events")
      .addColumn("seq", "integer", (c) => c.primaryKey())
      .addColumn("alert_id", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("step", "integer", (c) => c.notNull())
      .addColumn("at", bigint, (c) => c.notNull())
      .execute();
    await db
      .insertInto("state_versions" as never)
      .values({ name: "monitoring-alerts", version: 0 } as never)
      .execute();
  },
};
