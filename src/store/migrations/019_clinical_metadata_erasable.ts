import { sql, type Kysely } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * What identifies a patient's conditions leaves the tables that outlive erasure
 * (docs/data-at-rest.md):
 * - `audit_openings (idx, salt, facts)`: the opening of each version 2 audit entry's commitment
 *   (its categories and decision reason, src/audit/auditEntry.ts), written in the transaction of
 *   the entry and deleted when the patient erases their record; the entry itself keeps only the
 *   commitment.
 * - Subscription notifications no longer carry category masks: stored events get mask 0 and the
 *   REST-hook bodies queued or kept in `push_deliveries` lose their `categories`.
 */
export const clinicalMetadataErasable: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("audit_openings")
      .addColumn("idx", bigintType(dialect), (c) => c.primaryKey())
      .addColumn("salt", "text", (c) => c.notNull())
      .addColumn("facts", "text", (c) => c.notNull())
      .execute();
    await sql`update subscription_events set categories = 0 where categories <> 0`.execute(db);
    await stripCategories(db);
  },
};

/** Removes `categories` from the JSON bodies of subscription pushes. */
async function stripCategories(db: Kysely<unknown>): Promise<void> {
  const rows = await sql<{ id: number; body: string }>`
    select id, body from push_deliveries where kind = 'subscription' and body like '%"categories"%'`.execute(
    db,
  );
  for (const row of rows.rows) {
    let body: unknown;
    try {
      body = JSON.parse(row.body);
    } catch {
      continue;
    }
    if (typeof body !== "object" || body === null) continue;
    delete (body as Record<string, unknown>).categories;
    await sql`update push_deliveries set body = ${JSON.stringify(body)} where id = ${row.id}`.execute(db);
  }
}
