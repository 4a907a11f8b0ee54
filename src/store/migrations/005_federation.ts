import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * Federation between nodes (src/federation): the mirror of on-chain record locators (which
 * organizations hold which categories of a patient's record) and the replay guard of signed
 * node requests and practitioner access requests, each kept until it expires.
 */
export const federation: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("record_locators")
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("organization", "text", (c) => c.notNull())
      .addColumn("categories", bigintType(dialect), (c) => c.notNull())
      .addColumn("updated_at", bigintType(dialect), (c) => c.notNull())
      .addColumn("block_number", bigintType(dialect), (c) => c.notNull())
      .addPrimaryKeyConstraint("record_locators_pk", ["patient", "organization"])
      .execute();

    await db.schema
      .createTable("federation_replay")
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("expires_at", bigintType(dialect), (c) => c.notNull())
      .addPrimaryKeyConstraint("federation_replay_pk", ["kind", "key"])
      .execute();
    await db.schema
      .createIndex("federation_replay_expiry")
      .on("federation_replay")
      .column("expires_at")
      .execute();
  },
};
