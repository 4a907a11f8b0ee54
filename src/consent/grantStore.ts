import type { Kysely, Selectable, Transaction } from "kysely";
import type { Address, Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { ConsentGrantTable, Schema } from "../store/schema.js";
import { bumpVersion, inTransaction, type SharedState } from "../store/sharedState.js";
import { GrantIndex } from "./grantIndex.js";
import { GRANTEE_KINDS, type GranteeKind } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";

/** Rows read per query while rebuilding the index, to bound memory on large tables. */
const PAGE = 10_000;

/** A grant's terms as the patient signed them, with the signature a receiver re-checks. */
export interface SignedTerms {
  grant: Grant;
  signature: Hex;
}

/**
 * Stores a patient's signed terms in `consent_grants`, the mirror the index is rebuilt from.
 * With `confirmedAt` (the ledger recorded the commitment) the grant counts from now on, and a new
 * or newly confirmed row takes the next "grants" version (see {@link followGrants}); without it
 * the row waits for its commitment (terms this node relays, before they are mined). Idempotent on
 * `grant_id`: a second delivery changes nothing, a confirmation confirms once.
 * @param db - the node's database (or a transaction)
 * @param terms - the grant and the patient's signature
 * @param options - `confirmedAt` (unix seconds, from the ledger) and `relayedHere`
 * @returns true when the grant became confirmed by this call
 */
export async function saveTerms(
  db: Kysely<Schema>,
  terms: SignedTerms,
  options: { confirmedAt: number | null; relayedHere?: boolean },
): Promise<boolean> {
  const { grant, signature } = terms;
  const id = grant.grantId.toLowerCase();
  return inTransaction(db, async (tx) => {
    const result = await tx
      .insertInto("consent_grants")
      .values({
        grant_id: id,
        patient: grant.patient.toLowerCase(),
        grantee_kind: grant.granteeKind,
        grantee: grant.grantee.toLowerCase(),
        role: grant.role.toLowerCase(),
        categories: grant.categories,
        purposes: grant.purposes,
        actions: grant.actions,
        not_before: grant.notBefore,
        not_after: grant.notAfter,
        salt: grant.salt.toLowerCase(),
        signature: signature.toLowerCase(),
        relayed_here: options.relayedHere ? 1 : 0,
        confirmed_at: options.confirmedAt,
        revoked_at: grant.revokedAt ?? null,
      })
      .onConflict((oc) => oc.column("grant_id").doNothing())
      .executeTakeFirst();
    const inserted = Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    if (options.confirmedAt === null) return false;
    if (!inserted) return confirmInTx(tx, id, options.confirmedAt, grant.revokedAt);
    await tx
      .updateTable("consent_grants")
      .set({ changed_seq: await bumpVersion(tx, "grants") })
      .where("grant_id", "=", id)
      .execute();
    return true;
  });
}

/**
 * Confirms terms stored before their commitment was mined (the ledger's `ConsentGranted`).
 * @param grantId - the grant
 * @param confirmedAt - unix seconds of the recording block
 * @returns the grant when this call confirmed it; undefined when unknown here or already confirmed
 */
export async function confirmTerms(
  db: Kysely<Schema>,
  grantId: Hex,
  confirmedAt: number,
): Promise<Grant | undefined> {
  const confirmed = await inTransaction(db, (tx) => confirmInTx(tx, grantId.toLowerCase(), confirmedAt));
  return confirmed ? findGrant(db, grantId) : undefined;
}

async function confirmInTx(
  tx: Transaction<Schema>,
  id: string,
  confirmedAt: number,
  revokedAt?: number,
): Promise<boolean> {
  const pending = await tx
    .selectFrom("consent_grants")
    .select("grant_id")
    .where("grant_id", "=", id)
    .where("confirmed_at", "is", null)
    .executeTakeFirst();
  if (!pending) return false;
  const seq = await bumpVersion(tx, "grants");
  const set: { confirmed_at: number; changed_seq: number; revoked_at?: number } = {
    confirmed_at: confirmedAt,
    changed_seq: seq,
  };
  if (revokedAt !== undefined) set.revoked_at = revokedAt;
  const result = await tx
    .updateTable("consent_grants")
    .set(set)
    .where("grant_id", "=", id)
    .where("confirmed_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * The signed terms of confirmed grants, as this node passes them on.
 * @param ids - grant ids
 */
export async function signedTermsOf(db: Kysely<Schema>, ids: readonly Hex[]): Promise<SignedTerms[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom("consent_grants")
    .selectAll()
    .where(
      "grant_id",
      "in",
      ids.map((id) => id.toLowerCase()),
    )
    .where("confirmed_at", "is not", null)
    .execute();
  return rows.map((row) => ({ grant: grantFromRow(row), signature: row.signature as Hex }));
}

/**
 * Confirmed grants of `patient` that this node relayed, for passing on to a new holder.
 * @param patient - the patient's account
 */
export async function relayedGrantsOf(db: Kysely<Schema>, patient: string): Promise<Hex[]> {
  const rows = await db
    .selectFrom("consent_grants")
    .select("grant_id")
    .where("patient", "=", patient.toLowerCase())
    .where("relayed_here", "=", 1)
    .where("confirmed_at", "is not", null)
    .where("revoked_at", "is", null)
    .execute();
  return rows.map((r) => r.grant_id as Hex);
}

/**
 * Records a revocation seen on chain. A repeated revocation keeps the first time.
 * @param grantId - the revoked grant
 * @param at - unix seconds of the revoking block
 * @returns false when the grant is unknown or was already revoked
 */
export async function markRevoked(db: Kysely<Schema>, grantId: Hex, at: number): Promise<boolean> {
  return inTransaction(db, async (tx) => {
    const known = await tx
      .selectFrom("consent_grants")
      .select("grant_id")
      .where("grant_id", "=", grantId.toLowerCase())
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    if (!known) return false;
    // the version first: its row lock orders this revoke after every earlier change of grants
    const seq = await bumpVersion(tx, "grants");
    const result = await tx
      .updateTable("consent_grants")
      .set({ revoked_at: at, changed_seq: seq })
      .where("grant_id", "=", grantId.toLowerCase())
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  });
}

/**
 * Keeps `index` current with grants another process's indexer stored or revoked: at each moved
 * "grants" version, the rows changed since are applied (adding a known grant is a no-op; a
 * revoked one is marked revoked).
 */
export function followGrants(state: SharedState, db: Kysely<Schema>, index: GrantIndex): void {
  state.on("grants", async (since) => {
    let after = since;
    for (;;) {
      const rows = await db
        .selectFrom("consent_grants")
        .selectAll()
        .where("changed_seq", ">", after)
        .where("confirmed_at", "is not", null)
        .orderBy("changed_seq")
        .limit(PAGE)
        .execute();
      for (const row of rows) index.add(grantFromRow(row));
      const last = rows.at(-1);
      if (rows.length < PAGE || last === undefined) return;
      after = Number(last.changed_seq);
    }
  });
}

/**
 * Rebuilds the in-memory index from `consent_grants` at startup, page by page in grant-id order.
 * @param pageSize - rows per query
 * @returns an index holding every stored grant, revoked ones marked
 */
export async function loadGrantIndex(db: Kysely<Schema>, pageSize: number = PAGE): Promise<GrantIndex> {
  const index = new GrantIndex();
  let after: string | undefined;
  for (;;) {
    let query = db
      .selectFrom("consent_grants")
      .selectAll()
      .where("confirmed_at", "is not", null)
      .orderBy("grant_id")
      .limit(pageSize);
    if (after !== undefined) query = query.where("grant_id", ">", after);
    const rows = await query.execute();
    for (const row of rows) index.add(grantFromRow(row));
    const last = rows.at(-1);
    if (rows.length < pageSize || last === undefined) return index;
    after = last.grant_id;
  }
}

/** Reads one stored confirmed grant, or undefined. */
export async function findGrant(db: Kysely<Schema>, grantId: Hex): Promise<Grant | undefined> {
  const row = await db
    .selectFrom("consent_grants")
    .selectAll()
    .where("grant_id", "=", grantId.toLowerCase())
    .where("confirmed_at", "is not", null)
    .executeTakeFirst();
  return row === undefined ? undefined : grantFromRow(row);
}

function grantFromRow(row: Selectable<ConsentGrantTable>): Grant {
  if (!(GRANTEE_KINDS as readonly string[]).includes(row.grantee_kind)) {
    throw new BaseError("internal", "consent_grants holds an unknown grantee kind", {
      details: row.grant_id,
    });
  }
  const grant: Grant = {
    grantId: row.grant_id as Hex,
    patient: row.patient as Address,
    granteeKind: row.grantee_kind as GranteeKind,
    grantee: row.grantee as Hex,
    role: row.role as Hex,
    categories: Number(row.categories),
    purposes: Number(row.purposes),
    actions: Number(row.actions),
    notBefore: Number(row.not_before),
    notAfter: Number(row.not_after),
    salt: row.salt as Hex,
  };
  if (row.revoked_at !== null) grant.revokedAt = Number(row.revoked_at);
  return grant;
}
