import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * Record locators say only which organization holds data for a patient's account (RecordLocator
 * version 2): the mirror loses its category column, and with it the categories mirrored from the
 * earlier locator. The table starts empty and refills from the current locator's events; a
 * patient's opt-out of this organization's discovery gets its own table.
 */
export const locatorsWithoutCategories: DialectMigration = {
  async up(db, dialect) {
    await db.schema.dropTable("record_locators").execute();
    await db.schema
      .createTable("record_locators")
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("organization", "text", (c) => c.notNull())
      .addColumn("updated_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("block_number", bigintType(dialect), (c) => c.notNull())
      .addPrimaryKeyConstraint("record_locators_pk", ["patient", "organization"])
      .execute();
    await db.schema
      .createTable("discovery_opt_outs")
      .addColumn("patient", "text", (c) => c.primaryKey())
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .execute();
  },
};
