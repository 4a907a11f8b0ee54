import { sql, type Kysely } from "kysely";
import { getAddress, type Address, type Hex } from "viem";
import type { Schema } from "../store/schema.js";

export const DIRECTORY_KINDS = ["organization", "practitioner", "role"] as const;
export type DirectoryKind = (typeof DIRECTORY_KINDS)[number];

/**
 * One entry of the consortium's directory: who a patient can share with. `id` is what a grant
 * names: the practitioner's account, or the organization id (for an organization, and for a role
 * within it, beside `role`). The registry holds no person's name: a practitioner is named by
 * their role and account.
 */
export type DirectoryEntry =
  | { kind: "organization"; id: Hex; name: string; organizationKind: string }
  | { kind: "practitioner"; id: Address; name: string; organization: { id: Hex; name: string }; role: string }
  | { kind: "role"; id: Hex; name: string; organization: { id: Hex; name: string }; role: string };

export interface DirectoryQuery {
  /** Prefix of the organization's name (any case), of a role name, or of a practitioner's account. */
  q: string;
  kinds: readonly DirectoryKind[];
  limit: number;
  offset: number;
}

/** Largest page {@link searchDirectory} returns. */
export const DIRECTORY_MAX_PAGE = 100;

/**
 * Most rows one search reads from each table. A consortium's directory holds organizations and
 * their staff (thousands, not millions): matches are ordered and paged in memory, the same way on
 * SQLite and PostgreSQL whatever the database's collation.
 */
const DIRECTORY_SCAN = 10_000;

/** `LIKE` pattern of a prefix, its wildcards escaped (with `\`). */
const prefixPattern = (q: string) => `${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Searches the active organizations, practitioners and roles of the consortium, as this node
 * mirrors ParticipantRegistry (src/chain/participantMirror.ts): what the share picker offers.
 * Organizations match by name prefix; practitioners by their organization's name or their
 * account's prefix; roles (those held by an active practitioner) by organization name or role
 * name. Patients are never listed. Ordered by organization name, then role, then account.
 * @returns the page and the offset of the next page, if any
 */
export async function searchDirectory(
  db: Kysely<Schema>,
  query: DirectoryQuery,
): Promise<{ entries: DirectoryEntry[]; next: number | null }> {
  const pattern = prefixPattern(query.q.trim());
  const orgMatches = sql<boolean>`lower(o.name) like ${pattern} escape '\\'`;
  const want = (k: DirectoryKind) => query.kinds.includes(k);
  const all: Array<DirectoryEntry & { sort: string }> = [];
  if (want("organization")) {
    const rows = await db
      .selectFrom("organizations as o")
      .select(["o.id", "o.name", "o.kind"])
      .where("o.active", "=", 1)
      .where(orgMatches)
      .limit(DIRECTORY_SCAN)
      .execute();
    for (const r of rows)
      all.push({
        kind: "organization",
        id: r.id as Hex,
        name: r.name,
        organizationKind: r.kind,
        sort: `${r.name}\u0000${r.id}\u0000`,
      });
  }
  if (want("practitioner") || want("role")) {
    const rows = await db
      .selectFrom("practitioners as p")
      .innerJoin("organizations as o", "o.id", "p.org_id")
      .select(["p.account", "p.role", "o.id", "o.name"])
      .where("p.active", "=", 1)
      .where("o.active", "=", 1)
      .where((eb) =>
        eb.or([
          orgMatches,
          sql<boolean>`lower(p.account) like ${pattern} escape '\\'`,
          sql<boolean>`lower(p.role) like ${pattern} escape '\\'`,
        ]),
      )
      .limit(DIRECTORY_SCAN)
      .execute();
    const roles = new Set<string>();
    for (const r of rows) {
      const accountMatch = r.account.startsWith(query.q.trim().toLowerCase());
      if (want("practitioner"))
        all.push({
          kind: "practitioner",
          id: getAddress(r.account),
          name: `${r.role} ${r.account.slice(0, 6)}…${r.account.slice(-4)}`,
          organization: { id: r.id as Hex, name: r.name },
          role: r.role,
          sort: `${r.name}\u0000${r.id}\u0001${r.role}\u0001${r.account}`,
        });
      const key = `${r.id}|${r.role}`;
      if (want("role") && !accountMatch && !roles.has(key)) {
        roles.add(key);
        all.push({
          kind: "role",
          id: r.id as Hex,
          name: `every ${r.role}`,
          organization: { id: r.id as Hex, name: r.name },
          role: r.role,
          sort: `${r.name}\u0000${r.id}\u0001${r.role}\u0000`,
        });
      }
    }
  }
  all.sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0));
  const page = all
    .slice(query.offset, query.offset + query.limit)
    .map(({ sort: _sort, ...e }) => e as DirectoryEntry);
  return { entries: page, next: all.length > query.offset + query.limit ? query.offset + query.limit : null };
}
