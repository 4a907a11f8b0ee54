import type { DialectMigration } from "../migrate.js";

/**
 * State that several API processes on one database cache in memory gets a version per kind
 * (`state_versions`), bumped in the transaction of every change; the rows of grants and patient
 * links carry the version of their last change (`changed_seq`), so a process that sees a newer
 * version reads only what changed (src/store/sharedState.ts).
 */
export const sharedStateVersions: DialectMigration = {
  async up(db) {
    await db.schema
      .createTable("state_versions")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("version", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db
      .insertInto("state_versions" as never)
      .values(["grants", "break-glass", "patient-links"].map((name) => ({ name, version: 0 })) as never)
      .execute();
    for (const table of ["consent_grants", "patient_links"]) {
      await db.schema
        .alterTable(table)
        .addColumn("changed_seq", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex(`${table}_changed_seq`).on(table).column("changed_seq").execute();
    }
  },
};
