/**
 * The patient a clinician is looking at, kept in memory (never in the URL, never in storage): the
 * pages of the clinic area share it, and signing out forgets it.
 */
import { useSyncExternalStore } from "react";
import { useSession } from "../../auth/session";

export interface CurrentPatient {
  account: `0x${string}`;
  /** The FHIR Patient id at this node, when the clinician found the patient by a search here. */
  patientId?: string;
  /** A name to show, when the search showed one. */
  name?: string;
}

let current: (CurrentPatient & { chosenBy: string }) | undefined;
const listeners = new Set<() => void>();

/** Opens a patient for the signed-in clinician `chosenBy` (another sign-in does not see it). */
export function choosePatient(patient: CurrentPatient | undefined, chosenBy: string): void {
  current = patient && { ...patient, chosenBy };
  for (const l of listeners) l();
}

export function useCurrentPatient(): CurrentPatient | undefined {
  const { identity } = useSession();
  const chosen = useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
  return chosen && chosen.chosenBy === identity?.account ? chosen : undefined;
}

export const ACCOUNT_RE = /^0x[0-9a-fA-F]{40}$/;

/** The account in a scanned or typed text: a bare account, or an `ethereum:` URI (EIP-681). */
export function accountIn(text: string): `0x${string}` | undefined {
  const m = /(0x[0-9a-fA-F]{40})/.exec(text.trim());
  return m ? (m[1] as `0x${string}`) : undefined;
}
