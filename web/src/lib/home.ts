import type { Identity } from "../auth/session";

/** Where each kind of person lands after sign-in. */
export function homeOf(identity: Identity): string {
  if (identity.kind === "patient") return "/patient";
  if (identity.kind === "practitioner") return "/clinic";
  return "/operator";
}
