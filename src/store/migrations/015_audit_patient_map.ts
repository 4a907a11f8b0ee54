import { sql } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";
import { AUDIT_CHAINS_FROM } from "./014_audit_patient_chains.js";

/**
 * Meta key of the log size the persisted patient map describes: every entry about a patient below
 * it is counted in `audit_patient_map` (src/store/auditRows.ts).
 */
export const AUDIT_PATIENT_MAP_SIZE = "audit.patient_map.size";

/**
 * The audit log's patient map (docs/audit-completeness.md) is persisted, so a start reads one row
 * per patient and replays only the entries since the persisted size, instead of scanning every
 * entry since the chains began: `audit_patient_map (patient, last_idx, entry_count)`, written
 * when a tree head is anchored. It starts empty at the size where the chains start, so the first
 * start after this migration replays what it replayed before, once.
 */
export const auditPatientMap: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("audit_patient_map")
      .addColumn("patient", "text", (c) => c.primaryKey())
      .addColumn("last_idx", bigintType(dialect), (c) => c.notNull())
      .addColumn("entry_count", bigintType(dialect), (c) => c.notNull())
      .execute();
    await sql`insert into meta (key, value)
      select ${AUDIT_PATIENT_MAP_SIZE}, coalesce(
        (select value from meta where key = ${AUDIT_CHAINS_FROM}), '0')`.execute(db);
  },
};
