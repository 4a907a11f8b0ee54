import type { Kysely } from "kysely";
import type { DialectMigration } from "../migrate.js";
import type { Schema } from "../schema.js";

/** The `meta` key present while the database holds category masks in clear. */
export const CLEAR_MASKS_META = "records.clear-category-masks";

/**
 * Category masks of `resources` and `resource_versions` are stored blinded under each patient's
 * key (docs/data-at-rest.md). The keys are not within a migration's reach (they are wrapped by the
 * node's master key), so this only marks a database that holds masks written in clear; the node
 * blinds them at its next start, before it serves (src/records/maskBlinding.ts), and removes the
 * mark in the same transaction.
 */
export const categoryMasksBlinded: DialectMigration = {
  async up(kdb) {
    const db = kdb as unknown as Kysely<Schema>;
    const any = await db.selectFrom("resource_versions").select("id").limit(1).executeTakeFirst();
    if (any !== undefined)
      await db.insertInto("meta").values({ key: CLEAR_MASKS_META, value: "1" }).execute();
  },
};
