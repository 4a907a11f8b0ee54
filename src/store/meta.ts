import type { Kysely } from "kysely";
import type { Schema } from "./schema.js";

/** Reads one value of the node's key/value metadata (deployment, cursors, settings). */
export async function getMeta(db: Kysely<Schema>, key: string): Promise<string | undefined> {
  const row = await db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst();
  return row?.value;
}

/** Writes one metadata value, replacing any earlier one. */
export async function setMeta(db: Kysely<Schema>, key: string, value: string): Promise<void> {
  await db
    .insertInto("meta")
    .values({ key, value })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
    .execute();
}
