import type { DialectMigration } from "../migrate.js";
import { bigintType, bytesType } from "../columns.js";

/**
 * Digital health passport (src/passport): this node's SMART Health Card issuer keys (the private
 * key wrapped under the node's key provider, never in clear) and the cards it issued, with the
 * random `rid` that lets the issuer revoke a card on the ledger without naming the patient there.
 */
export const passport: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    await db.schema
      .createTable("passport_issuer_keys")
      .addColumn("kid", "text", (c) => c.primaryKey())
      .addColumn("public_jwk", "text", (c) => c.notNull())
      .addColumn("wrapped_private_key", bytesType(dialect), (c) => c.notNull())
      .addColumn("provider_id", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("created_at", bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("passport_cards")
      .addColumn("card_id", "text", (c) => c.primaryKey())
      .addColumn("patient_id", "text", (c) => c.notNull())
      .addColumn("kid", "text", (c) => c.notNull())
      .addColumn("rid", "text", (c) => c.notNull())
      .addColumn("card_type", "text", (c) => c.notNull())
      .addColumn("nbf", bigint, (c) => c.notNull())
      .addColumn("issued_by", "text", (c) => c.notNull())
      .addColumn("revoked_at", bigint)
      .execute();
    await db.schema.createIndex("passport_cards_patient").on("passport_cards").column("patient_id").execute();
  },
};
