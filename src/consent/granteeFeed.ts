import type { Kysely } from "kysely";
import { getAddress, type Address, type Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { GranteeKind } from "../model/vocabulary.js";
import type { Schema } from "../store/schema.js";
import type { SharedState } from "../store/sharedState.js";
import { granteeKey } from "./grantIndex.js";
import { accountToBytes32, roleToBytes32 } from "./signConsent.js";

/** A grant that now counts at this node, or was revoked, as its grantee hears of it. */
export interface GrantChange {
  grantId: Hex;
  patient: Address;
  change: "granted" | "revoked";
  /** The grantee's key in the grant index ({@link granteeKey}). */
  grantee: string;
}

const PAGE = 500;

/**
 * Tells grantees, live, when a grant naming them starts to count here or is revoked, so an open
 * page re-checks what it may show. Fed by the shared "grants" version (src/store/sharedState.ts),
 * so every API process hears of every change, whichever process's indexer applied it, within one
 * recheck (200 ms) of its commit; the process that applied it has already changed its decisions.
 */
export class GranteeFeed {
  readonly #listeners = new Set<(change: GrantChange) => void>();

  constructor(private readonly db: Kysely<Schema>) {}

  /** Follows the shared "grants" version; register after the grant index follows it. */
  follow(state: SharedState): void {
    state.on("grants", async (since) => {
      if (this.#listeners.size === 0) return;
      let after = since;
      for (;;) {
        const rows = await this.db
          .selectFrom("consent_grants")
          .select(["grant_id", "patient", "grantee_kind", "grantee", "role", "revoked_at", "changed_seq"])
          .where("changed_seq", ">", after)
          .where("confirmed_at", "is not", null)
          .orderBy("changed_seq")
          .limit(PAGE)
          .execute();
        for (const row of rows) {
          const change: GrantChange = {
            grantId: row.grant_id as Hex,
            patient: getAddress(row.patient),
            change: row.revoked_at === null ? "granted" : "revoked",
            grantee: granteeKey(row.grantee_kind as GranteeKind, row.grantee as Hex, row.role as Hex),
          };
          for (const listener of this.#listeners) listener(change);
        }
        const last = rows.at(-1);
        if (rows.length < PAGE || last === undefined) return;
        after = Number(last.changed_seq);
      }
    });
  }

  /** Listens to every change; returns the function that stops listening. */
  listen(listener: (change: GrantChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The grantee keys that name `principal`: their account, their organization, their role there. */
export function granteeKeysOf(principal: Principal): Set<string> {
  const keys = new Set([granteeKey("practitioner", accountToBytes32(principal.account))]);
  if (principal.organization) {
    keys.add(granteeKey("organization", principal.organization));
    if (principal.role) keys.add(granteeKey("role", principal.organization, roleToBytes32(principal.role)));
  }
  return keys;
}
