import type { Kysely } from "kysely";
import type { Schema } from "../store/schema.js";

/**
 * The database half of an erasure, after the patient's key is gone: the patient's search tokens
 * are deleted and every resource is marked deleted, in one transaction. Idempotent, so an erasure a
 * crash cut short is finished by running it again.
 * @returns how many resources the patient had
 */
export function eraseRows(db: Kysely<Schema>, patientId: string): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom("resources")
      .select(["type", "id"])
      .where("patient_id", "=", patientId)
      .execute();
    for (const r of rows)
      await tx.deleteFrom("search_tokens").where("type", "=", r.type).where("id", "=", r.id).execute();
    await tx.updateTable("resources").set({ deleted: 1 }).where("patient_id", "=", patientId).execute();
    return rows.length;
  });
}
