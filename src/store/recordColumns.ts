import type { Selectable } from "kysely";
import type { ResourceTable, ResourceVersionTable } from "./schema.js";

/** The `resource_versions` columns every read path selects (`blob` from the version itself). */
export const STORED_VERSION_COLUMNS = [
  "type",
  "id",
  "version_id",
  "patient_id",
  "categories",
  "author_org",
  "last_updated",
  "deleted",
  "blob",
] as const;

/** One stored version as the read paths select it; `categories` is the mask as stored (blinded). */
export type StoredVersion = Pick<Selectable<ResourceVersionTable>, (typeof STORED_VERSION_COLUMNS)[number]>;

/** The `resources` columns a search or export selects before the consent filter. */
export const CANDIDATE_COLUMNS = [
  "type",
  "id",
  "version_id",
  "patient_id",
  "categories",
  "author_org",
] as const;

/** One current version that a search or export may return, before the consent filter. */
export type Candidate = Pick<Selectable<ResourceTable>, (typeof CANDIDATE_COLUMNS)[number]>;

/** What names one version: enough to look it up, to derive its mask's pad, to decrypt it. */
export type VersionKey = Pick<Candidate, "type" | "id" | "version_id">;
