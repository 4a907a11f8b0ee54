import type { DialectMigration } from "../migrate.js";
import { foundation } from "./001_foundation.js";

/** Every migration, in the order it runs. Names are stored: never rename, only append. */
export const migrations: Record<string, DialectMigration> = {
  "001_foundation": foundation,
};
