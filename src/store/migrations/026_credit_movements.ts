import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * CareCredit movements the node's indexer read from the ledger (src/chain/creditMovements.ts):
 * mints, escrows into StudyEscrow, payouts and refunds, one row per Transfer event, so a patient's
 * or a sponsor's credit history is a query, not a scan of the ledger. Addresses are lowercase;
 * amounts decimal strings (uint256).
 */
export const creditMovements: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    await db.schema
      .createTable("credit_movements")
      .addColumn("tx_hash", "text", (c) => c.notNull())
      .addColumn("log_index", "integer", (c) => c.notNull())
      .addColumn("block_number", bigint, (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("study_id", "text")
      .addColumn("amount", "text", (c) => c.notNull())
      .addColumn("from_account", "text", (c) => c.notNull())
      .addColumn("to_account", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("credit_movements_pk", ["tx_hash", "log_index"])
      .execute();
    await db.schema.createIndex("credit_movements_to").on("credit_movements").column("to_account").execute();
    await db.schema
      .createIndex("credit_movements_from")
      .on("credit_movements")
      .column("from_account")
      .execute();
  },
};
