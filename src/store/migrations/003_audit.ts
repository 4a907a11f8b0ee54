import { sql } from "kysely";
import type { DialectMigration } from "../migrate.js";
import { bigintType, bytesType } from "../columns.js";

/**
 * The audit log (src/audit): entries with their leaf hashes, the hashes of every complete
 * subtree (level 0 = leaves) for O(log n) roots and proofs, and the signed tree heads.
 */
export const audit: DialectMigration = {
  async up(db, dialect) {
    await db.schema
      .createTable("audit_entries")
      .addColumn("idx", bigintType(dialect), (c) => c.primaryKey())
      .addColumn("entry", "text", (c) => c.notNull())
      .addColumn("leaf_hash", bytesType(dialect), (c) => c.notNull())
      .addColumn("patient", "text")
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("audit_entries_patient")
      .on("audit_entries")
      .columns(["patient", "idx"])
      .execute();

    const nodes = db.schema
      .createTable("audit_nodes")
      .addColumn("level", "integer", (c) => c.notNull())
      .addColumn("idx", bigintType(dialect), (c) => c.notNull())
      .addColumn("hash", bytesType(dialect), (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_nodes_pk", ["level", "idx"]);
    await (dialect === "sqlite" ? nodes.modifyEnd(sql`without rowid`) : nodes).execute();

    await db.schema
      .createTable("audit_tree_heads")
      .addColumn("tree_size", bigintType(dialect), (c) => c.primaryKey())
      .addColumn("root", bytesType(dialect), (c) => c.notNull())
      .addColumn("timestamp", bigintType(dialect), (c) => c.notNull())
      .addColumn("node", "text", (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("anchored_block", bigintType(dialect))
      .addColumn("anchored_tx", "text")
      .addColumn("created_at", bigintType(dialect), (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("audit_tree_heads_status")
      .on("audit_tree_heads")
      .columns(["status", "tree_size"])
      .execute();
  },
};
