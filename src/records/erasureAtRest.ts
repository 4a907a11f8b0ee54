import type { AuditLog } from "../audit/auditLog.js";
import type { ErasureAtRest } from "../store/erasureRows.js";

/**
 * What a patient's erasure removes besides the records (src/store/erasureRows.ts): the openings of
 * every audit entry about them, under the names the log used (their account, and `patient:<id>`
 * before the Patient was linked to one), and what their account's subscriptions and grants hold.
 * @param audit - the node's audit log
 * @param patientId - the FHIR Patient id
 * @param account - the patient's ledger account, when linked
 */
export async function erasureAtRest(
  audit: Pick<AuditLog, "patientEntryIndexes">,
  patientId: string,
  account: string | undefined,
): Promise<ErasureAtRest> {
  const names = account === undefined ? [`patient:${patientId}`] : [`patient:${patientId}`, account];
  return {
    auditIndexes: await audit.patientEntryIndexes(names),
    accounts: account === undefined ? [] : [account],
    now: Date.now(),
  };
}
