/**
 * The first half of a record write, before anything is stored: the resource is checked (its
 * patient, its categories), the write authorized through the host (the consent layer's decision
 * and its audit entry), its new version numbered and stamped, encrypted under the patient's key,
 * and its search index rows computed. `persistWrite` (src/records/recordWrite.ts) stores it.
 */
import { isAddressEqual, type Address, type Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { Category } from "../model/vocabulary.js";
import { canonicalJson } from "../crypto/canonicalJson.js";
import { encryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import type { BlindIndex } from "./blindIndex.js";
import { categorize, categoryMaskOf } from "./categorize.js";
import type { FhirResource } from "./fhirTypes.js";
import type { PatientLinks } from "./patientLinks.js";
import {
  accountIdentifier,
  DIRECTORY_KEY,
  DIRECTORY_TYPES,
  tokenRowsOf,
  type PreparedWrite,
} from "./recordWrite.js";
import { extractIndex, patientOf } from "./searchIndex.js";

/** What preparing a write needs from the repository. */
export interface PrepareHost {
  store: Store;
  keyring: PatientKeyring;
  blind: BlindIndex;
  links: PatientLinks;
  /** This node's organization id, stamped into `meta.source`. */
  organizationId: Hex;
  /** Decides (and audits a refusal of) the write; throws when refused. */
  authorize(
    principal: Principal,
    patientId: string | undefined,
    account: Address | undefined,
    categories: Category[],
    ref: string,
  ): Promise<void>;
}

/**
 * Validates, authorizes, numbers, stamps and encrypts one resource write.
 * @param knownVersion - the current version when the caller knows it (a bundle writing a resource twice)
 */
export async function prepareWrite(
  h: PrepareHost,
  principal: Principal,
  resource: FhirResource,
  knownVersion?: number,
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
  const previous =
    knownVersion ??
    (
      await h.store.db
        .selectFrom("resources")
        .select(["version_id"])
        .where("type", "=", type)
        .where("id", "=", id)
        .executeTakeFirst()
    )?.version_id;
  let account: Address | undefined;
  if (type === "Patient") {
    // The account a Patient names is a claim: an existing Patient is written under the account it
    // is linked to (none: its authoring organization only), and its link never changes this way.
    const linked = await h.links.accountOf(id);
    const claimed = accountIdentifier(resource);
    await h.authorize(
      principal,
      patientId,
      previous === undefined ? (linked ?? claimed) : linked,
      categories,
      `${type}/${id}`,
    );
    if (
      previous === undefined &&
      !linked &&
      principal.kind === "patient" &&
      (await hasRecords(h.store, id))
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
    await h.authorize(principal, patientId, account, categories, `${type}/${id}`);
  }
  const versionId = (previous ?? 0) + 1;
  const now = Date.now();
  const stored: FhirResource = {
    ...resource,
    meta: {
      ...(resource.meta ?? {}),
      versionId: String(versionId),
      lastUpdated: new Date(now).toISOString(),
      source: `urn:carechain:org:${h.organizationId}`,
    },
  };
  const aad = `${type}/${id}/_history/${versionId}`;
  const keyId = patientId ? `Patient/${patientId}` : DIRECTORY_KEY;
  const plaintext = Buffer.from(canonicalJson(stored), "utf8");
  const { ciphertext } = await encryptRecord(h.keyring, keyId, plaintext, aad);
  const index = extractIndex(stored);
  return {
    type,
    id,
    versionId,
    previous: previous !== undefined,
    patientId,
    account,
    categories,
    mask: categoryMaskOf(resource),
    stored,
    ciphertext,
    sortDate: index.find((r) => r.param === "date")?.start ?? null,
    tokens: index.flatMap((row) => tokenRowsOf(h.blind, type, id, row)),
    now,
    author: principal.account.toLowerCase(),
  };
}

async function hasRecords(store: Store, patientId: string): Promise<boolean> {
  const row = await store.db
    .selectFrom("resources")
    .select("id")
    .where("patient_id", "=", patientId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
