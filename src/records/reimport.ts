import { canonicalJson } from "../crypto/canonicalJson.js";
import type { Principal } from "../model/principal.js";
import type { FhirResource } from "./fhirTypes.js";
import { prepareWrite, type PrepareDeps } from "./recordPrepare.js";
import { patientOf } from "./searchIndex.js";
import type { WriteJournal } from "./writeJournal.js";

/**
 * The version a bundle entry repeats, unchanged, when the same writer stored it (a
 * re-import of the same source entry lands on the same id: the source's id, or the server id
 * derived from it). Then nothing is written, so a re-import needs only the right to create the
 * entry, as the first import did, not the right to read or amend what is stored (a sensitive
 * record, say); and since only the writer's own version is compared, the answer tells nobody
 * anything they did not write. Audited in the patient's log.
 */
export async function reimportedVersion(
  h: PrepareDeps,
  journal: WriteJournal,
  principal: Principal,
  resource: FhirResource,
): Promise<string | undefined> {
  const row = await h.vault.rows.current(resource.resourceType, resource.id!);
  if (!row || row.deleted || !row.blob) return undefined;
  const patientId = patientOf(resource);
  if ((row.patient_id ?? undefined) !== patientId) return undefined;
  if ((await h.vault.rows.authorOf(row)) !== principal.account.toLowerCase()) return undefined;
  if (patientId !== undefined && (await h.keyring.isErased(`Patient/${patientId}`))) return undefined;
  const { meta: _stored, ...stored } = await h.vault.open(row);
  const { meta: _given, ...given } = resource;
  if (canonicalJson(stored) !== canonicalJson(given)) return undefined;
  // the right a first import needed: to create this entry as new (refusals audited there)
  const prepared = await prepareWrite(h, principal, resource, "import", undefined, { asNew: true });
  const location = `${prepared.type}/${prepared.id}/_history/${row.version_id}`;
  await journal.unchanged(principal, prepared, location);
  return location;
}
