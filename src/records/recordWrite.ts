import type { Insertable, Transaction } from "kysely";
import { getAddress, type Address } from "viem";
import type { Category } from "../model/vocabulary.js";
import type { Schema, SearchTokenTable } from "../store/schema.js";
import type { BlindIndex } from "./blindIndex.js";
import { writePatientLink } from "./patientLinks.js";
import type { FhirResource } from "./fhirTypes.js";
import { PATIENT_ACCOUNT_SYSTEM } from "./searchBundle.js";
import type { extractIndex } from "./searchIndex.js";
import { patientTokenRows } from "./searchTokens.js";
import { ADDRESS_PATTERN } from "../model/schemas.js";

/**
 * The storage side of a record write: one version prepared (validated, authorized, encrypted,
 * indexed) and how it lands in the tables. The repository decides and audits; this writes.
 */
export interface PreparedWrite {
  type: string;
  id: string;
  versionId: number;
  previous: boolean;
  patientId: string | undefined;
  account: Address | undefined;
  categories: Category[];
  /** Category bitmask, in clear (for the decisions of later entries of the same bundle). */
  mask: number;
  /** The mask as stored: blinded under the patient's key (src/records/blinding.ts). */
  storedMask: number;
  /** HMAC of the canonical JSON under the patient's key (src/records/blinding.ts). */
  contentHash: string;
  stored: FhirResource;
  /** The encrypted body; null for a delete marker. */
  ciphertext: Uint8Array | null;
  /** A delete marker (FHIR delete): no body, no search tokens. */
  deleted?: boolean;
  sortDate: number | null;
  tokens: Insertable<SearchTokenTable>[];
  now: number;
  author: string;
  /** The organization the version is recorded as: this node's, or a directory resource's owner. */
  authorOrg: string;
}

/** Key under which a resource outside any patient compartment (Organization, Practitioner...) is encrypted. */
export const DIRECTORY_KEY = "Patient/carechain-directory";

/** Resource types outside any patient compartment. */
export const DIRECTORY_TYPES = new Set([
  "Organization",
  "Practitioner",
  "PractitionerRole",
  "Location",
  "Medication",
  "Device",
]);

/** Writes one prepared version: its row, the current pointer, its search tokens, a Patient's link. */
export async function persistWrite(tx: Transaction<Schema>, p: PreparedWrite): Promise<void> {
  const org = p.authorOrg;
  await tx
    .insertInto("resource_versions")
    .values({
      type: p.type,
      id: p.id,
      version_id: p.versionId,
      patient_id: p.patientId ?? null,
      categories: p.storedMask,
      author_org: org,
      author: p.author,
      last_updated: p.now,
      deleted: p.deleted ? 1 : 0,
      content_hash: p.contentHash,
      blob: p.ciphertext,
    })
    .execute();
  const current = {
    version_id: p.versionId,
    patient_id: p.patientId ?? null,
    categories: p.storedMask,
    author_org: org,
    last_updated: p.now,
    deleted: p.deleted ? 1 : 0,
    sort_date: p.sortDate,
  };
  if (p.previous) {
    await tx
      .updateTable("resources")
      .set(current)
      .where("type", "=", p.type)
      .where("id", "=", p.id)
      .execute();
  } else {
    await tx
      .insertInto("resources")
      .values({ type: p.type, id: p.id, ...current })
      .execute();
  }
  await tx.deleteFrom("search_tokens").where("type", "=", p.type).where("id", "=", p.id).execute();
  for (let i = 0; i < p.tokens.length; i += 200) {
    await tx
      .insertInto("search_tokens")
      .values(p.tokens.slice(i, i + 200))
      .execute();
  }
  if (p.type === "Patient" && p.account) await writePatientLink(tx, p.id, p.account);
}

/** The blind-index rows one extracted search value contributes. */
export function tokenRowsOf(
  blind: BlindIndex,
  type: string,
  id: string,
  row: ReturnType<typeof extractIndex>[number],
): Insertable<SearchTokenTable>[] {
  const base = {
    type,
    id,
    param: row.param as string,
    token: null as string | null,
    start_ms: null as number | null,
    end_ms: null as number | null,
  };
  if (row.param === "date") return [{ ...base, start_ms: row.start ?? null, end_ms: row.end ?? null }];
  if (row.param === "code" || row.param === "category" || row.param === "status") {
    return blind.codingTokens(row.system, row.code).map((token) => ({ ...base, token }));
  }
  return patientTokenRows(blind, base, row);
}

/** The Patient with the carechain account identifier set to `account`. */
export function withAccount(resource: FhirResource, account: Address): FhirResource {
  const ids = Array.isArray(resource.identifier) ? (resource.identifier as Array<{ system?: unknown }>) : [];
  const kept = ids.filter((i) => i.system !== PATIENT_ACCOUNT_SYSTEM);
  return {
    ...resource,
    identifier: [...kept, { system: PATIENT_ACCOUNT_SYSTEM, value: getAddress(account) }],
  };
}

/** The account a Patient resource names with the carechain account identifier system. */
export function accountIdentifier(resource: FhirResource): Address | undefined {
  const ids = Array.isArray(resource.identifier)
    ? (resource.identifier as Array<{ system?: unknown; value?: unknown }>)
    : [];
  const hit = ids.find(
    (i) =>
      i.system === PATIENT_ACCOUNT_SYSTEM && typeof i.value === "string" && ADDRESS_PATTERN.test(i.value),
  );
  return hit ? getAddress(hit.value as string) : undefined;
}
