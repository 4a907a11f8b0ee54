import type { DialectMigration } from "../migrate.js";
import { bigintType, bytesType } from "../columns.js";

/**
 * Remote patient monitoring (src/monitoring, docs/monitoring.md): registered devices and their
 * public keys; readings as encrypted per-batch chunks (one row per accepted signed batch, unique
 * per device and batch id, so a batch resent after a lost answer is stored once); the care team's
 * per-patient settings (encrypted: a hypercapnia mark is clinical data); and alerts (their
 * clinical content encrypted, their state in the clear for escalation).
 */
export const monitoring: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    const bytes = bytesType(dialect);
    await db.schema
      .createTable("monitoring_devices")
      .addColumn("device_id", "text", (c) => c.primaryKey())
      .addColumn("patient_id", "text", (c) => c.notNull())
      .addColumn("patient_account", "text", (c) => c.notNull())
      .addColumn("public_key", "text", (c) => c.notNull())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("registered_by", "text", (c) => c.notNull())
      .addColumn("registered_at", bigint, (c) => c.notNull())
      .addColumn("revoked_at", bigint)
      .addColumn("revoked_by", "text")
      .execute();
    await db.schema
      .createIndex("monitoring_devices_patient")
      .on("monitoring_devices")
      .column("patient_id")
      .execute();
    await db.schema
      .createTable("monitoring_batches")
      .addColumn("device_id", "text", (c) => c.notNull())
      .addColumn("batch_id", "text", (c) => c.notNull())
      .addColumn("patient_id", "text", (c) => c.notNull())
      .addColumn("received_at", bigint, (c) => c.notNull())
      .addColumn("first_at", bigint, (c) => c.notNull())
      .addColumn("last_at", bigint, (c) => c.notNull())
      .addColumn("readings", "integer", (c) => c.notNull())
      .addColumn("blob", bytes, (c) => c.notNull())
      .addPrimaryKeyConstraint("monitoring_batches_pk", ["device_id", "batch_id"])
      .execute();
    await db.schema
      .createIndex("monitoring_batches_patient_time")
      .on("monitoring_batches")
      .columns(["patient_id", "last_at"])
      .execute();
    await db.schema
      .createTable("monitoring_settings")
      .addColumn("patient_id", "text", (c) => c.primaryKey())
      .addColumn("blob", bytes, (c) => c.notNull())
      .addColumn("updated_at", bigint, (c) => c.notNull())
      .addColumn("updated_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("monitoring_alerts")
      .addColumn("alert_id", "text", (c) => c.primaryKey())
      .addColumn("patient_id", "text", (c) => c.notNull())
      .addColumn("patient_account", "text", (c) => c.notNull())
      .addColumn("created_at", bigint, (c) => c.notNull())
      .addColumn("step", "integer", (c) => c.notNull())
      .addColumn("escalate_at", bigint)
      .addColumn("acked_at", bigint)
      .addColumn("acked_by", "text")
      .addColumn("blob", bytes, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("monitoring_alerts_patient")
      .on("monitoring_alerts")
      .columns(["patient_id", "created_at"])
      .execute();
    await db.schema
      .createIndex("monitoring_alerts_escalation")
      .on("monitoring_alerts")
      .column("escalate_at")
      .execute();
  },
};
