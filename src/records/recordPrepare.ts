/**
 * The first half of a record write, before anything is stored: the resource is checked (its
 * patient, its categories, the version it replaces), the write authorized by the
 * {@link WriteAuthorizer} (the decision on both versions and the audit entry of a refusal), its new
 * version numbered and stamped, encrypted under the patient's key, and its search index rows
 * computed. `persistWrite` (src/records/recordWrite.ts) stores it.
 */
import { isAddressEqual, type Address } from "viem";
import type { Principal } from "../model/principal.js";
import type { Category } from "../model/vocabulary.js";
import { canonicalJson } from "../crypto/canonicalJson.js";
import { encryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import { categoriesOf } from "../model/vocabulary.js";
import type { BlindIndex } from "./blindIndex.js";
import { categorize, categoryMaskOf } from "./categorize.js";
import type { FhirResource } from "./fhirTypes.js";
import type { PatientLinks } from "./patientLinks.js";
import type { CurrentVersion, RecordVault } from "./recordVault.js";
import {
  accountIdentifier,
  DIRECTORY_KEY,
  DIRECTORY_TYPES,
  tokenRowsOf,
  type PreparedWrite,
} from "./recordWrite.js";
import { extractIndex, patientOf } from "./searchIndex.js";
import type { WriteAuthorizer } from "./writeAuthorizer.js";

/** How the caller asked for the write: a create, an update of `type/id`, or a bundle entry. */
export type WriteIntent = "create" | "update" | "import" | "delete";

/** What the authorization of one write looks at: the new version and the version it replaces. */
export interface WriteTarget {
  type: string;
  id: string;
  intent: WriteIntent;
  resource: FhirResource;
  /** The new version's patient and their account (undefined for a directory resource). */
  patientId: string | undefined;
  account: Address | undefined;
  categories: Category[];
  current: CurrentVersion | undefined;
}

/** What preparing a write works with. */
export interface PrepareDeps {
  keyring: PatientKeyring;
  blind: BlindIndex;
  links: PatientLinks;
  vault: RecordVault;
  writes: Pick<WriteAuthorizer, "authorize">;
}

/**
 * Validates, authorizes, numbers, stamps and encrypts one resource write.
 * @param known - the current version when the caller knows it (a bundle writing a resource twice)
 * @param options - `asNew`: authorize as the create of a new resource, whatever is stored
 */
export async function prepareWrite(
  h: PrepareDeps,
  principal: Principal,
  resource: FhirResource,
  intent: WriteIntent,
  known?: CurrentVersion,
  options: { asNew?: boolean } = {},
): Promise<PreparedWrite> {
  const type = resource.resourceType;
  const id = resource.id!;
  const patientId = patientOf(resource);
  if (patientId === undefined && !DIRECTORY_TYPES.has(type)) {
    throw new BaseError("invalid", `${type} must reference its patient (subject or patient)`, {
      expression: `${type}.subject`,
    });
  }
  const categories = categorize(resource);
  const current = options.asNew ? undefined : (known ?? (await h.vault.currentVersion(type, id)));
  const previous = current?.versionId;
  const target = { type, id, intent, resource, patientId, categories, current };
  let account: Address | undefined;
  let authorOrg: string;
  if (type === "Patient") {
    // The account a Patient names is a claim: an existing Patient is written under the account it
    // is linked to (none: its authoring organization only), and its link never changes this way.
    const linked = await h.links.accountOf(id);
    const claimed = accountIdentifier(resource);
    authorOrg = await h.writes.authorize(principal, {
      ...target,
      account: previous === undefined ? (linked ?? claimed) : linked,
    });
    if (
      previous === undefined &&
      !linked &&
      principal.kind === "patient" &&
      (await h.vault.rows.hasRecords(id))
    ) {
      // records already held for this id (from an organization) are not claimable by a new Patient
      throw new BaseError(
        "forbidden",
        "records already exist for this patient id: ask the organization holding them to link your account",
      );
    }
    if (linked && claimed && !isAddressEqual(linked, claimed))
      throw new BaseError("conflict", "this Patient is linked to another account", {
        expression: "Patient.identifier",
      });
    account = linked ?? claimed;
  } else {
    account = await h.links.accountOf(patientId);
    authorOrg = await h.writes.authorize(principal, { ...target, account });
  }
  const versionId = (previous ?? 0) + 1;
  const now = Date.now();
  const stored: FhirResource = {
    ...resource,
    meta: {
      ...(resource.meta ?? {}),
      versionId: String(versionId),
      lastUpdated: new Date(now).toISOString(),
      source: `urn:carechain:org:${authorOrg}`,
    },
  };
  const aad = `${type}/${id}/_history/${versionId}`;
  const keyId = patientId ? `Patient/${patientId}` : DIRECTORY_KEY;
  const plaintext = Buffer.from(canonicalJson(stored), "utf8");
  const { ciphertext } = await encryptRecord(h.keyring, keyId, plaintext, aad);
  const mask = categoryMaskOf(resource);
  const index = extractIndex(stored);
  return {
    type,
    id,
    versionId,
    previous: previous !== undefined,
    patientId,
    account,
    categories,
    mask,
    storedMask: await h.vault.blind(patientId, type, id, versionId, mask),
    contentHash: await h.vault.contentHash(patientId, plaintext),
    stored,
    ciphertext,
    sortDate: index.find((r) => r.param === "date")?.start ?? null,
    tokens: index.flatMap((row) => tokenRowsOf(h.blind, type, id, row)),
    now,
    author: principal.account.toLowerCase(),
    authorOrg,
  };
}

/**
 * Authorizes and stamps the delete marker of `type/id` (FHIR delete): a new version without a
 * body, of the same patient and categories as the version it replaces, authorized as an update
 * of that version (src/records/writeAuthorizer.ts).
 */
export async function prepareDelete(
  h: PrepareDeps,
  principal: Principal,
  type: string,
  id: string,
  current: CurrentVersion,
): Promise<PreparedWrite> {
  const patientId = current.patientId ?? undefined;
  const account = await h.links.accountOf(patientId);
  const categories = categoriesOf(current.categories);
  const authorOrg = await h.writes.authorize(principal, {
    type,
    id,
    intent: "delete",
    resource: { resourceType: type, id },
    patientId,
    account,
    categories,
    current,
  });
  const versionId = current.versionId + 1;
  const now = Date.now();
  const lastUpdated = new Date(now).toISOString();
  return {
    type,
    id,
    versionId,
    previous: true,
    patientId,
    account,
    categories,
    mask: current.categories,
    storedMask: await h.vault.blind(patientId, type, id, versionId, current.categories),
    contentHash: await h.vault.contentHash(patientId, Buffer.from(`deleted|${type}/${id}|${versionId}`)),
    stored: { resourceType: type, id, meta: { versionId: String(versionId), lastUpdated } },
    ciphertext: null,
    deleted: true,
    sortDate: null,
    tokens: [],
    now,
    author: principal.account.toLowerCase(),
    authorOrg,
  };
}
