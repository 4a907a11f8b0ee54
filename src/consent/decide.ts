import { stringToHex, type Address, type Hex } from "viem";
import type { GrantIndex } from "./grantIndex.js";
import {
  ACTIONS,
  CATEGORIES,
  KNOWN_CATEGORY_MASK,
  PURPOSES,
  SENSITIVE_CATEGORIES,
  type Action,
  type Category,
  type Grant,
  type Purpose,
} from "./model.js";

/** How long a break-glass session lasts from its start: 4 hours. */
export const BREAK_GLASS_SECONDS = 4 * 60 * 60;

/** Who asks, as the decision needs it (see `src/access` for how the caller proved it). */
export interface DecisionPrincipal {
  account: Address;
  /** Organization id (bytes32) the caller acts for. */
  organization?: Hex | undefined;
  /** Role name within the organization, e.g. "physician". */
  role?: string | undefined;
  kind: "patient" | "practitioner" | "node" | "researcher" | "device" | "verifier" | (string & {});
}

export interface BreakGlassRequest {
  /** The patient's settings allow emergency access. */
  allowedByPatient: boolean;
  /** Why the clinician breaks the glass; required. */
  reason?: string | undefined;
  /** Unix seconds at which the break-glass session started. */
  startedAt: number;
}

export interface DecisionRequest {
  principal: DecisionPrincipal;
  patient: Address;
  category: Category;
  purpose: Purpose;
  action: Action;
  /** Unix seconds. */
  time: number;
  /** Organization id (bytes32) that authored the record, when a record is read. */
  authorOrganization?: Hex | undefined;
  breakGlass?: BreakGlassRequest | undefined;
}

export type DecisionReason =
  | "patient-self"
  | "author-organization"
  | "grant"
  | "break-glass"
  | "no-grant"
  | "category-not-granted"
  | "sensitive-not-granted"
  | "purpose-not-granted"
  | "action-not-granted"
  | "revoked"
  | "grant-not-yet-valid"
  | "grant-expired"
  | "break-glass-not-allowed"
  | "break-glass-not-practitioner"
  | "break-glass-purpose"
  | "break-glass-sensitive"
  | "break-glass-action"
  | "break-glass-reason-required"
  | "break-glass-expired";

export interface Decision {
  permit: boolean;
  reason: DecisionReason;
  grantId?: Hex;
  breakGlass?: boolean;
}

const CATEGORY_BIT = bitTable(CATEGORIES);
const PURPOSE_BIT = bitTable(PURPOSES);
const ACTION_BIT = bitTable(ACTIONS);
const SENSITIVE = new Set<Category>(SENSITIVE_CATEGORIES);
const UNKNOWN_CATEGORY_BITS = ~KNOWN_CATEGORY_MASK >>> 0;

/**
 * Grant denials by how far the grant got before it failed: a denial from a later stage tells the
 * caller more (a revoked labs grant explains a labs denial better than an unrelated imaging grant).
 */
const DENIALS = [
  "no-grant",
  "category-not-granted",
  "sensitive-not-granted",
  "purpose-not-granted",
  "action-not-granted",
  "revoked",
  "grant-not-yet-valid",
  "grant-expired",
] as const satisfies readonly DecisionReason[];
const NO_GRANT = 0;
const CATEGORY = 1;
const SENSITIVE_CATEGORY = 2;
const PURPOSE = 3;
const ACTION = 4;
const REVOKED = 5;
const NOT_YET_VALID = 6;
const EXPIRED = 7;

const roleKeyCache = new Map<string, Hex>();

/**
 * The one consent decision (DESIGN.md "Consent model"): the patient may do anything with their own
 * data, the authoring organization may read its record, anyone else needs a matching grant or a
 * break-glass the patient allows. Looks only at the grants of this patient to this principal's
 * practitioner account, organization and organization role, so its cost does not grow with the
 * number of grants in the system.
 * @param index - the grant index fed by ledger events
 * @param request - who asks, for which patient, category, purpose, action and time
 * @returns permit or deny, with a short machine-friendly reason
 */
export function decide(index: GrantIndex, request: DecisionRequest): Decision {
  const { principal, action } = request;
  const patient = request.patient.toLowerCase();
  const account = principal.account.toLowerCase();
  if (account === patient) return { permit: true, reason: "patient-self" };
  const organization = principal.organization?.toLowerCase();
  if (
    action === "read" &&
    organization !== undefined &&
    request.authorOrganization?.toLowerCase() === organization
  ) {
    return { permit: true, reason: "author-organization" };
  }

  let denial = check(index.forPractitioner(patient, account), request);
  if (typeof denial !== "number") return denial;
  if (organization !== undefined) {
    const byOrg = check(index.forOrganization(patient, organization), request);
    if (typeof byOrg !== "number") return byOrg;
    if (byOrg > denial) denial = byOrg;
    const role = principal.role === undefined ? undefined : roleBytes32(principal.role);
    if (role !== undefined) {
      const byRole = check(index.forRole(patient, organization, role), request);
      if (typeof byRole !== "number") return byRole;
      if (byRole > denial) denial = byRole;
    }
  }

  if (request.breakGlass) return breakGlass(request, request.breakGlass);
  return { permit: false, reason: DENIALS[denial] ?? "no-grant" };
}

/** Returns a permit for the first grant that matches, or the stage of the most informative denial. */
function check(grants: readonly Readonly<Grant>[], request: DecisionRequest): Decision | number {
  if (grants.length === 0) return NO_GRANT;
  const categoryBit = CATEGORY_BIT.get(request.category) ?? 0;
  const sensitive = SENSITIVE.has(request.category);
  const purposeBit = PURPOSE_BIT.get(request.purpose) ?? 0;
  const actionBit = ACTION_BIT.get(request.action) ?? 0;
  const time = request.time;
  let best = NO_GRANT;
  for (const g of grants) {
    let stage: number;
    if ((g.categories & categoryBit) === 0) stage = sensitive ? SENSITIVE_CATEGORY : CATEGORY;
    // A mask with undefined bits set looks like a careless "all": it never stands for a sensitive category.
    else if (sensitive && (g.categories & UNKNOWN_CATEGORY_BITS) !== 0) stage = SENSITIVE_CATEGORY;
    else if ((g.purposes & purposeBit) === 0) stage = PURPOSE;
    else if ((g.actions & actionBit) === 0) stage = ACTION;
    else if (g.revokedAt !== undefined) stage = REVOKED;
    else if (time < g.notBefore) stage = NOT_YET_VALID;
    else if (time >= g.notAfter) stage = EXPIRED;
    else return { permit: true, reason: "grant", grantId: g.grantId };
    if (stage > best) best = stage;
  }
  return best;
}

function breakGlass(request: DecisionRequest, bg: BreakGlassRequest): Decision {
  const deny = (reason: DecisionReason): Decision => ({ permit: false, reason });
  if (!bg.allowedByPatient) return deny("break-glass-not-allowed");
  if (request.principal.kind !== "practitioner") return deny("break-glass-not-practitioner");
  if (request.purpose !== "ETREAT") return deny("break-glass-purpose");
  if (SENSITIVE.has(request.category)) return deny("break-glass-sensitive");
  if (request.action !== "read") return deny("break-glass-action");
  if (bg.reason === undefined || bg.reason.trim() === "") return deny("break-glass-reason-required");
  if (request.time < bg.startedAt || request.time >= bg.startedAt + BREAK_GLASS_SECONDS) {
    return deny("break-glass-expired");
  }
  return { permit: true, reason: "break-glass", breakGlass: true };
}

/** bytes32 of a role name, or undefined when no grant can name it (empty or over 32 bytes). */
function roleBytes32(role: string): Hex | undefined {
  let hex = roleKeyCache.get(role);
  if (hex === undefined) {
    if (role === "" || Buffer.byteLength(role, "utf8") > 32) return undefined;
    hex = stringToHex(role, { size: 32 });
    if (roleKeyCache.size < 1024) roleKeyCache.set(role, hex);
  }
  return hex;
}

function bitTable<T extends string>(names: readonly T[]): Map<string, number> {
  return new Map(names.map((name, i) => [name, (1 << i) >>> 0]));
}
