import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * Research studies (src/research): the studies this node knows (its organization's own and those
 * a sponsor's node shared), each patient's signed research consent and enrollment, the releases
 * this node made, and one row per contribution it pays (the payout's outbox intent is written
 * after the release commits; a row without one is paid at the next start).
 */
export const research: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    await db.schema
      .createTable("research_studies")
      .addColumn("study_id", "text", (c) => c.primaryKey())
      .addColumn("organization", "text", (c) => c.notNull())
      .addColumn("definition", "text", (c) => c.notNull())
      .addColumn("protocol_hash", "text", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("created_at", bigint, (c) => c.notNull())
      .addColumn("closed_at", bigint)
      .execute();
    await db.schema
      .createTable("research_enrollments")
      .addColumn("study_id", "text", (c) => c.notNull())
      .addColumn("account", "text", (c) => c.notNull())
      .addColumn("participant", "text", (c) => c.notNull())
      .addColumn("payout", "text", (c) => c.notNull())
      .addColumn("consent", "text", (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .addColumn("salt", "text", (c) => c.notNull())
      .addColumn("commitment", "text", (c) => c.notNull())
      .addColumn("enrolled_at", bigint, (c) => c.notNull())
      .addColumn("withdrawn_at", bigint)
      .addPrimaryKeyConstraint("research_enrollments_pk", ["study_id", "account"])
      .execute();
    await db.schema
      .createIndex("research_enrollments_participant")
      .on("research_enrollments")
      .columns(["study_id", "participant"])
      .unique()
      .execute();
    await db.schema
      .createTable("research_releases")
      .addColumn("release_id", "text", (c) => c.primaryKey())
      .addColumn("study_id", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("release_hash", "text", (c) => c.notNull())
      .addColumn("epsilon_micros", bigint, (c) => c.notNull())
      .addColumn("k", "integer", (c) => c.notNull())
      .addColumn("participants", "integer", (c) => c.notNull())
      .addColumn("body", "text", (c) => c.notNull())
      .addColumn("requested_by", "text", (c) => c.notNull())
      .addColumn("created_at", bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("research_releases_study")
      .on("research_releases")
      .column("study_id")
      .execute();
    await db.schema
      .createTable("research_contributions")
      .addColumn("contribution", "text", (c) => c.primaryKey())
      .addColumn("release_id", "text", (c) => c.notNull())
      .addColumn("study_id", "text", (c) => c.notNull())
      .addColumn("participant", "text", (c) => c.notNull())
      .addColumn("outbox_id", bigint)
      .execute();
    await db.schema
      .createIndex("research_contributions_study")
      .on("research_contributions")
      .columns(["study_id", "participant"])
      .execute();
  },
};
