/**
 * The rows of a database whose category masks and content hashes are still in clear (written
 * before they were blinded: src/store/migrations/016_category_masks_blinded.ts), and the one
 * transaction that replaces them with their blinded form.
 */
import type { Store } from "./database.js";
import { CLEAR_MASKS_META } from "./migrations/016_category_masks_blinded.js";

/** One version whose mask is stored in clear. */
export interface ClearMaskRow {
  type: string;
  id: string;
  version_id: number;
  patient_id: string | null;
  categories: number;
  /** The encrypted body (null for a delete marker), to key its content hash. */
  blob: Uint8Array | null;
  /** Whether this version is the resource's current one (its mask is in `resources` too). */
  current: boolean;
}

/** Every version still holding a clear mask, or none when the database holds no clear mask. */
export async function clearMaskRows(store: Store): Promise<ClearMaskRow[]> {
  const { db } = store;
  const marked = await db
    .selectFrom("meta")
    .select("key")
    .where("key", "=", CLEAR_MASKS_META)
    .executeTakeFirst();
  if (marked === undefined) return [];
  const rows = await db
    .selectFrom("resource_versions as v")
    .leftJoin("resources as r", (j) =>
      j.onRef("r.type", "=", "v.type").onRef("r.id", "=", "v.id").onRef("r.version_id", "=", "v.version_id"),
    )
    .select([
      "v.type",
      "v.id",
      "v.version_id",
      "v.patient_id",
      "v.categories",
      "v.blob",
      "r.version_id as current_version",
    ])
    .execute();
  return rows.map((r) => ({
    type: r.type,
    id: r.id,
    version_id: r.version_id,
    patient_id: r.patient_id,
    categories: Number(r.categories),
    blob: r.blob,
    current: r.current_version !== null,
  }));
}

/**
 * Stores the blinded masks and removes the clear-masks mark, in one transaction. When another
 * process removed the mark first (it blinded them), nothing is written.
 * @param blinded - each row of {@link clearMaskRows} with its blinded mask and keyed content hash
 * @returns whether this call wrote them
 */
export async function storeBlindedMasks(
  store: Store,
  blinded: ReadonlyArray<{ row: ClearMaskRow; stored: number; contentHash: string }>,
): Promise<boolean> {
  return await store.db.transaction().execute(async (tx) => {
    const removed = await tx.deleteFrom("meta").where("key", "=", CLEAR_MASKS_META).executeTakeFirst();
    if (Number(removed.numDeletedRows) === 0) return false;
    for (const { row, stored, contentHash } of blinded) {
      await tx
        .updateTable("resource_versions")
        .set({ categories: stored, content_hash: contentHash })
        .where("type", "=", row.type)
        .where("id", "=", row.id)
        .where("version_id", "=", row.version_id)
        .execute();
      if (row.current)
        await tx
          .updateTable("resources")
          .set({ categories: stored })
          .where("type", "=", row.type)
          .where("id", "=", row.id)
          .where("version_id", "=", row.version_id)
          .execute();
    }
    return true;
  });
}
