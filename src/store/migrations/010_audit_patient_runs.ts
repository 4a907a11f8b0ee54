import { sql } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * Entries per run of the patient index: pairs are keyed by `(run, patient, idx)` with
 * `run = floor(idx / AUDIT_PATIENT_RUN)`. Part of the schema: changing it needs a migration.
 */
export const AUDIT_PATIENT_RUN = 16_384;

/**
 * The deferred patient index is partitioned into runs of consecutive entries:
 * `audit_patient_runs (run, patient, idx)` replaces `audit_patient_entries (patient, idx)`.
 * Keyed by patient alone, every indexing step scattered its pairs over the whole table, so a step
 * dirtied about as many pages as the table had, and more as the log grew; keyed by run first, a
 * step writes into the pages of the newest run or two only. A patient's lookup seeks once per run
 * (`run in (...) and patient = ?`). Existing pairs are copied.
 */
export const auditPatientRuns: DialectMigration = {
  async up(db, dialect) {
    const table = db.schema
      .createTable("audit_patient_runs")
      .addColumn("run", bigintType(dialect), (c) => c.notNull())
      .addColumn("patient", "text", (c) => c.notNull())
      .addColumn("idx", bigintType(dialect), (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_patient_runs_pk", ["run", "patient", "idx"]);
    await (dialect === "sqlite" ? table.modifyEnd(sql`without rowid`) : table).execute();
    // Integer division on both engines (idx is an integer column).
    await sql`insert into audit_patient_runs (run, patient, idx)
      select idx / ${sql.lit(AUDIT_PATIENT_RUN)}, patient, idx from audit_patient_entries
      order by idx / ${sql.lit(AUDIT_PATIENT_RUN)}, patient, idx`.execute(db);
    await db.schema.dropTable("audit_patient_entries").execute();
  },
};
