import type { DialectMigration } from "../migrate.js";
import { bigintType } from "../columns.js";

/**
 * SMART App Launch (src/smart): the apps the operator registered, the authorization codes waiting
 * for their token request, and the access and refresh tokens issued, so that any API process
 * sharing the database can redeem a code, check a token or revoke it. Codes, tokens and client
 * secrets are stored as SHA-256 hashes only.
 */
export const smartOauth: DialectMigration = {
  async up(db, dialect) {
    const bigint = bigintType(dialect);
    await db.schema
      .createTable("smart_clients")
      .addColumn("client_id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("confidential", "integer", (c) => c.notNull())
      .addColumn("secret_hash", "text")
      .addColumn("redirect_uris", "text", (c) => c.notNull())
      .addColumn("scope", "text", (c) => c.notNull())
      .addColumn("created_at", bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("smart_codes")
      .addColumn("code_hash", "text", (c) => c.primaryKey())
      .addColumn("client_id", "text", (c) => c.notNull())
      .addColumn("grant_id", "text", (c) => c.notNull())
      .addColumn("user_json", "text", (c) => c.notNull())
      .addColumn("scope", "text", (c) => c.notNull())
      .addColumn("redirect_uri", "text", (c) => c.notNull())
      .addColumn("code_challenge", "text", (c) => c.notNull())
      .addColumn("code_challenge_method", "text", (c) => c.notNull())
      .addColumn("expires_at", bigint, (c) => c.notNull())
      .addColumn("used_at", bigint)
      .execute();
    await db.schema.createIndex("smart_codes_expiry").on("smart_codes").column("expires_at").execute();
    await db.schema
      .createTable("smart_tokens")
      .addColumn("token_hash", "text", (c) => c.primaryKey())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("client_id", "text", (c) => c.notNull())
      .addColumn("grant_id", "text", (c) => c.notNull())
      .addColumn("user_json", "text", (c) => c.notNull())
      .addColumn("scope", "text", (c) => c.notNull())
      .addColumn("issued_at", bigint, (c) => c.notNull())
      .addColumn("expires_at", bigint, (c) => c.notNull())
      .addColumn("revoked_at", bigint)
      .execute();
    await db.schema.createIndex("smart_tokens_grant").on("smart_tokens").column("grant_id").execute();
    await db.schema.createIndex("smart_tokens_expiry").on("smart_tokens").column("expires_at").execute();
  },
};
