import { sql } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/** Meta key of the deferred patient index's watermark: entries below it are in `audit_patient_entries`. */
export const AUDIT_PATIENT_WATERMARK = "audit.patient_index.indexed_up_to";

/**
 * The audit log's patient index moves out of the append path: `audit_patient_entries` holds
 * (patient, idx) pairs written in bulk behind the appends (src/audit/patientIndex.ts), up to a
 * watermark kept in `meta`; the per-row secondary index on `audit_entries` is dropped. Existing
 * entries are backfilled, so the watermark starts at the current log size.
 */
export const auditPatientIndex: DialectMigration = {
  async up(db, dialect) {
    const table = db.schema
      .createTable("audit_patient_entries")
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("idx", bigintType(dialect), (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_patient_entries_pk", ["patient", "idx"]);
    await (dialect === "sqlite" ? table.modifyEnd(sql`without rowid`) : table).execute();
    await sql`insert into audit_patient_entries (patient, idx)
      select patient, idx from audit_entries where patient is not null order by patient, idx`.execute(db);
    await sql`insert into meta (key, value)
      select ${AUDIT_PATIENT_WATERMARK}, cast(coalesce(max(idx) + 1, 0) as text) from audit_entries`.execute(
      db,
    );
    await db.schema.dropIndex("audit_entries_patient").execute();
  },
};
