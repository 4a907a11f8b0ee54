import { stringToHex, type Address, type Hex } from "viem";
import { Stage, type GrantIndex } from "./grantIndex.js";
import {
  ACTIONS,
  CATEGORIES,
  PURPOSES,
  SENSITIVE_CATEGORIES,
  type Action,
  type Category,
  type Purpose,
} from "../model/vocabulary.js";

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

/** The reason for a denial by the latest {@link Stage} a grant of the principal reached. */
const DENIALS: Record<Stage, DecisionReason> = {
  [Stage.noGrant]: "no-grant",
  [Stage.category]: "category-not-granted",
  [Stage.sensitive]: "sensitive-not-granted",
  [Stage.purpose]: "purpose-not-granted",
  [Stage.action]: "action-not-granted",
  [Stage.revoked]: "revoked",
  [Stage.notYetValid]: "grant-not-yet-valid",
  [Stage.expired]: "grant-expired",
};

const roleKeyCache = new Map<string, Hex>();

/**
 * The one consent decision (DESIGN.md "Consent model"): the patient may do anything with their own
 * data, the authoring organization may read its record, anyone else needs a matching grant or a
 * break-glass the patient allows. Among the grants of this patient, a grant to the practitioner
 * account wins over one to the organization, which wins over one to the role within it; a denial
 * names the most informative stage any of them reached. Looks only at this patient's grants, laid
 * out flat by the index, so its cost does not grow with the number of grants in the system.
 * @param index - the grant index fed by ledger events
 * @param request - who asks, for which patient, category, purpose, action and time
 * @returns permit or deny, with a short machine-friendly reason
 */
export function decide(index: GrantIndex, request: DecisionRequest): Decision {
  const { principal, action, patient } = request;
  const account = principal.account;
  if (sameIgnoringCase(account, patient)) return { permit: true, reason: "patient-self" };
  const organization = principal.organization?.toLowerCase();
  if (
    action === "read" &&
    organization !== undefined &&
    request.authorOrganization !== undefined &&
    sameIgnoringCase(request.authorOrganization, organization)
  ) {
    return { permit: true, reason: "author-organization" };
  }

  const found = index.match({
    patient,
    account,
    organization,
    role:
      organization === undefined || principal.role === undefined ? undefined : roleBytes32(principal.role),
    categoryBit: CATEGORY_BIT.get(request.category) ?? 0,
    sensitive: SENSITIVE.has(request.category),
    purposeBit: PURPOSE_BIT.get(request.purpose) ?? 0,
    actionBit: ACTION_BIT.get(action) ?? 0,
    time: request.time,
  });
  if (typeof found === "string") return { permit: true, reason: "grant", grantId: found };
  if (request.breakGlass) return breakGlass(request, request.breakGlass);
  return { permit: false, reason: DENIALS[found] };
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

/**
 * `a.toLowerCase() === b.toLowerCase()`, comparing from the end (where two accounts usually differ)
 * without making lowercase copies while both tails are ASCII.
 */
function sameIgnoringCase(a: string, b: string): boolean {
  let i = a.length - 1;
  let j = b.length - 1;
  for (; i >= 0 && j >= 0; i--, j--) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(j);
    if (x === y && x < 128) continue;
    if (x >= 128 || y >= 128) break;
    const folded = x | 32;
    if (folded !== (y | 32) || folded < 97 || folded > 122) return false;
  }
  if (i < 0 && j < 0) return true;
  return a.toLowerCase() === b.toLowerCase();
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
