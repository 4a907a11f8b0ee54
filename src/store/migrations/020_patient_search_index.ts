import type { Kysely } from "kysely";
import type { DialectMigration } from "../migrate.js";
import type { Schema } from "../schema.js";

/** The `meta` key present while Patients written before their search index existed are unindexed. */
export const PATIENT_SEARCH_META = "records.patient-search-unindexed";

/**
 * Patient search by name, identifier, gender and birth date reads blinded index rows that older
 * versions did not write. The blind-index key is not within a migration's reach (it is wrapped by
 * the node's master key) and the names are in the encrypted resources, so this only marks a
 * database that holds Patients; the node indexes them at its next start, before it serves
 * (src/records/patientSearchBackfill.ts), and removes the mark.
 */
export const patientSearchIndex: DialectMigration = {
  async up(kdb) {
    const db = kdb as unknown as Kysely<Schema>;
    const any = await db
      .selectFrom("resources")
      .select("id")
      .where("type", "=", "Patient")
      .limit(1)
      .executeTakeFirst();
    if (any !== undefined)
      await db.insertInto("meta").values({ key: PATIENT_SEARCH_META, value: "1" }).execute();
  },
};
