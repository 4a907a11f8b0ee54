import { sql } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bytesType } from "../columns.js";

/**
 * Meta key of the first log index whose entries carry the per-patient `prev` chain (the log size
 * when this migration ran). The patient map counts the entries from there on.
 */
export const AUDIT_CHAINS_FROM = "audit.patient_chains.from";

/**
 * Completeness of a patient's access log (docs/audit-completeness.md): tree heads carry the root
 * of the patient map beside the log root, and entries appended from now on carry their patient's
 * `prev`. Entries already stored keep their text (rewriting them would change anchored roots); the
 * chains start at the current size. Heads signed but not anchored under the old head type can
 * never be anchored and are dropped; the next head covers their entries.
 */
export const auditPatientChains: DialectMigration = {
  async up(db, dialect) {
    await db.schema.alterTable("audit_tree_heads").addColumn("map_root", bytesType(dialect)).execute();
    await sql`delete from audit_tree_heads where status = 'signed'`.execute(db);
    await sql`insert into meta (key, value)
      select ${AUDIT_CHAINS_FROM}, cast(coalesce(max(idx) + 1, 0) as text) from audit_entries`.execute(db);
  },
};
