import type { DialectMigration } from "../migrate.js";
import { bigintType, bytesType } from "../columns.js";

/**
 * Per-patient data keys, wrapped by the node's key provider. Erasing a patient nulls
 * `wrapped_key` and stamps `erased_at` (crypto-shredding); the row stays so the erasure is
 * remembered and no new key is ever created for that patient.
 */
export const patientKeyTables: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("patient_keys")
      .addColumn("patient", "text", (c) => c.primaryKey())
      .addColumn("wrapped_key", bytesType(dialect))
      .addColumn("provider_id", "text", (c) => c.notNull())
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("erased_at", bigintType(dialect))
      .execute();
  },
};
