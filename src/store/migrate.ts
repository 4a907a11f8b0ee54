import { Migrator, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { Dialect } from "./database.js";
import { migrations } from "./migrations/index.js";

/** A migration that may need to know the engine (blob vs bytea, autoincrement vs identity). */
export interface DialectMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Applies every migration in `migrations/index.ts` that has not run yet, in order. */
export async function migrateToLatest(kdb: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const provider: MigrationProvider = {
    getMigrations: () => {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(migrations)) out[name] = { up: (d) => m.up(d, dialect) };
      return Promise.resolve(out);
    },
  };
  const migrator = new Migrator({
    db: kdb,
    provider,
    migrationTableName: "schema_migrations",
    migrationLockTableName: "schema_migrations_lock",
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}
