/**
 * SMART App Launch 2.x scopes (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)
 * and what they allow here. A scope only narrows: the consent decision still runs for the user the
 * token speaks for (docs/smart-on-fhir.md).
 *
 * - `patient/<Type|*>.<cruds>`: resources of the launch patient (the token's `patient`), and
 *   resources of no patient (directory resources: Practitioner, Organization, ...).
 * - `user/<Type|*>.<cruds>`: whatever the user may reach under consent.
 * - SMART v1 `.read` / `.write` / `.*` are read as `rs` / `cud` / `cruds`.
 * - Granular scopes with a query (`?category=...`) and `system/` scopes are not supported: they
 *   are left out of what is granted, never widened to the scope without the query.
 */
import type { AccessScope, ScopeInteraction } from "../model/principal.js";

/** Scopes that grant no resource access but shape the launch or the token. */
export const CONTEXT_SCOPES = ["launch/patient", "offline_access", "online_access"];

const INTERACTIONS: readonly ScopeInteraction[] = ["c", "r", "u", "d", "s"];
const V1: Record<string, string> = { read: "rs", write: "cud", "*": "cruds" };
const RESOURCE_SCOPE = /^(patient|user)\/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)$/;

/** One `patient/` or `user/` resource scope. */
export interface ResourceScope {
  context: "patient" | "user";
  /** A resource type, or `*`. */
  type: string;
  interactions: ReadonlySet<ScopeInteraction>;
  /** The scope as written. */
  text: string;
}

/**
 * Parses one resource scope (v2 `cruds` in that order, or v1 `read`/`write`/`*`).
 * @returns undefined for anything else (context scopes, `system/`, granular `?` scopes, typos)
 */
export function parseResourceScope(text: string): ResourceScope | undefined {
  const m = RESOURCE_SCOPE.exec(text);
  if (!m) return undefined;
  const [, context, type, perms] = m as unknown as [string, "patient" | "user", string, string];
  const letters = V1[perms] ?? perms;
  // v2 letters appear at most once each, in the order c r u d s
  let last = -1;
  const interactions = new Set<ScopeInteraction>();
  for (const ch of letters) {
    const at = INTERACTIONS.indexOf(ch as ScopeInteraction);
    if (at <= last) return undefined;
    last = at;
    interactions.add(ch as ScopeInteraction);
  }
  return { context, type, interactions, text };
}

/** Splits a space-separated scope string into its distinct scopes. */
export function splitScope(scope: string | readonly string[] | undefined): string[] {
  const list = typeof scope === "string" ? scope.split(" ") : [...(scope ?? [])];
  return [...new Set(list.map((s) => s.trim()).filter((s) => s !== ""))];
}

/** Whether `scope` is one this server understands (a context scope or a resource scope). */
export function isKnownScope(scope: string): boolean {
  return CONTEXT_SCOPES.includes(scope) || parseResourceScope(scope) !== undefined;
}

/**
 * The restriction a granted scope string puts on a principal.
 * @param granted - The scopes granted (space-separated).
 * @param patient - The launch patient `patient/` scopes are bound to; without one they allow
 *   nothing of any patient.
 */
export function accessScope(granted: string, patient: string | undefined): AccessScope {
  const scopes = splitScope(granted)
    .map(parseResourceScope)
    .filter((s): s is ResourceScope => s !== undefined);
  return {
    granted,
    ...(patient === undefined ? {} : { patient }),
    refusal(type, interaction, patientId) {
      const matching = scopes.filter(
        (s) => (s.type === "*" || s.type === type) && s.interactions.has(interaction),
      );
      if (matching.length === 0) return `scope grants no '${interaction}' on ${type}`;
      // a check by type alone, or a resource of no patient: any matching scope will do
      if (patientId === undefined || patientId === null) return undefined;
      if (matching.some((s) => s.context === "user")) return undefined;
      if (patient !== undefined && patientId === patient) return undefined;
      return "patient/ scopes reach only the launch patient";
    },
  };
}

/** Whether a bearer token is a SMART access token (issued by src/smart/smartStore.ts) rather than a session JWT. */
export function isSmartAccessToken(token: string): boolean {
  return token.startsWith("smat_");
}
