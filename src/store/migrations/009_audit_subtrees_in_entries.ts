import { sql } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bytesType } from "../columns.js";

/** Subtree rows moved per step: bounds the memory a large log's migration holds. */
const STEP = 10_000;

/**
 * The audit log's subtree hashes move from `audit_tree` into the entry rows that complete them:
 * `audit_entries.subtrees` holds the hashes of levels 1, 2, ... finished by that entry's append,
 * and level 0 is the entry's `leaf_hash`. An append then writes one row per entry into one b-tree
 * instead of an entry row plus about two subtree rows, so a commit dirties fewer pages and binds
 * a third of the values. Existing hashes are copied; level-0 rows duplicated `leaf_hash`.
 */
export const auditSubtreesInEntries: DialectMigration = {
  async up(db, dialect) {
    await db.schema.alterTable("audit_entries").addColumn("subtrees", bytesType(dialect)).execute();
    // Rows come in position order: `(last leaf) * 64 + level`, so one entry's levels are adjacent
    // and ascending.
    let after = -1;
    for (;;) {
      const { rows } = await sql<{ pos: number | string; hash: Uint8Array }>`select pos, hash from audit_tree
        where pos > ${after} and pos % 64 > 0 order by pos limit ${STEP}`.execute(db);
      if (rows.length === 0) break;
      const byLeaf = new Map<number, Uint8Array[]>();
      for (const row of rows) {
        const pos = Number(row.pos);
        const leaf = Math.floor(pos / 64);
        const hashes = byLeaf.get(leaf) ?? [];
        hashes.push(row.hash);
        byLeaf.set(leaf, hashes);
        after = pos;
      }
      // A step may end inside one entry's levels: keep all of them together in the next step.
      const last = Math.floor(after / 64);
      if (rows.length === STEP && byLeaf.size > 1) {
        byLeaf.delete(last);
        after = last * 64;
      }
      for (const [leaf, hashes] of byLeaf) {
        await sql`update audit_entries set subtrees = ${Buffer.concat(hashes)} where idx = ${leaf}`.execute(
          db,
        );
      }
    }
    await db.schema.dropTable("audit_tree").execute();
  },
};
