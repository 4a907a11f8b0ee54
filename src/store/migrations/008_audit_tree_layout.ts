import { sql } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bigintType, bytesType } from "../columns.js";

/**
 * The audit log's subtree hashes move from `audit_nodes`, keyed by (level, index), to `audit_tree`,
 * keyed by one position that grows with the order nodes are completed in:
 * `(last leaf of the subtree) * 64 + level` (src/audit/auditStore.ts `nodePosition`). Every append
 * then writes at the right edge of one b-tree instead of at one place per level, so a small batch
 * dirties a few pages rather than one or two per level of the tree. Existing hashes are copied.
 */
export const auditTreeLayout: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("audit_tree")
      .addColumn("pos", bigintType(dialect), (c) => c.primaryKey())
      .addColumn("hash", bytesType(dialect), (c) => c.notNull())
      .execute();
    const one = dialect === "postgres" ? sql`cast(1 as bigint)` : sql`1`;
    await sql`insert into audit_tree (pos, hash)
      select ((idx + 1) * (${one} << level) - 1) * 64 + level, hash from audit_nodes
      order by ((idx + 1) * (${one} << level) - 1) * 64 + level`.execute(db);
    await db.schema.dropTable("audit_nodes").execute();
  },
};
