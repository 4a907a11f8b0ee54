import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * Pending Sign-In with Ethereum challenges move from process memory into the database
 * (src/access/challengeStore.ts): any API process sharing the database can take the answer, and
 * a restart no longer voids the challenges in flight.
 */
export const siweChallenges: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("siwe_challenges")
      .addColumn("nonce", "text", (c) => c.primaryKey())
      .addColumn("address", "text", (c) => c.notNull())
      .addColumn("expires_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("siwe_challenges_expiry")
      .on("siwe_challenges")
      .column("expires_at")
      .execute();
  },
};
