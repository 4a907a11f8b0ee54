/**
 * The vocabulary every room shares: data categories, HL7 purposes of use and actions as bit
 * positions, grantee kinds, practitioner roles and organization kinds. Bit positions are part of
 * the on-chain format: never renumber, only append.
 */

export const CATEGORIES = [
  "demographics",
  "conditions",
  "medications",
  "allergies",
  "immunizations",
  "labs",
  "vitals",
  "imaging",
  "notes",
  "device-readings",
  "encounters",
  "procedures",
  "care-plans",
  "documents",
  "financial",
  "audit",
  // sensitive: never implied by a broader grant, always named one by one
  "mental-health",
  "sexual-health",
  "substance-use",
  "genomics",
] as const;
export type Category = (typeof CATEGORIES)[number];

export const SENSITIVE_CATEGORIES: readonly Category[] = [
  "mental-health",
  "sexual-health",
  "substance-use",
  "genomics",
];

export function categoryBit(category: Category): number {
  return 1 << CATEGORIES.indexOf(category);
}

export function categoryMask(categories: readonly Category[]): number {
  let mask = 0;
  for (const c of categories) mask |= categoryBit(c);
  return mask >>> 0;
}

export function categoriesOf(mask: number): Category[] {
  return CATEGORIES.filter((_, i) => (mask >>> i) & 1);
}

export const SENSITIVE_MASK = categoryMask(SENSITIVE_CATEGORIES);
export const ALL_NON_SENSITIVE_MASK = (categoryMask(CATEGORIES) & ~SENSITIVE_MASK) >>> 0;

export function isSensitive(category: Category): boolean {
  return SENSITIVE_CATEGORIES.includes(category);
}

/** HL7 v3 PurposeOfUse codes (http://terminology.hl7.org/CodeSystem/v3-ActReason). */
export const PURPOSES = [
  "TREAT",
  "ETREAT",
  "HPAYMT",
  "HOPERAT",
  "HRESCH",
  "PATRQT",
  "PUBHLTH",
  "HDIRECT",
] as const;
export type Purpose = (typeof PURPOSES)[number];

export function purposeBit(purpose: Purpose): number {
  return 1 << PURPOSES.indexOf(purpose);
}
export function purposeMask(purposes: readonly Purpose[]): number {
  let mask = 0;
  for (const p of purposes) mask |= purposeBit(p);
  return mask >>> 0;
}
export function purposesOf(mask: number): Purpose[] {
  return PURPOSES.filter((_, i) => (mask >>> i) & 1);
}

export const ACTIONS = ["read", "write"] as const;
export type Action = (typeof ACTIONS)[number];
export function actionBit(action: Action): number {
  return 1 << ACTIONS.indexOf(action);
}
export function actionMask(actions: readonly Action[]): number {
  let mask = 0;
  for (const a of actions) mask |= actionBit(a);
  return mask;
}
export function actionsOf(mask: number): Action[] {
  return ACTIONS.filter((_, i) => (mask >> i) & 1);
}

/**
 * Who a grant is for. `practitioner`: `grantee` is the practitioner's account (left-padded to
 * bytes32). `organization`: `grantee` is the organization id. `role`: `grantee` is the
 * organization id and `role` names the role within it (bytes32 of the role name).
 */
export const GRANTEE_KINDS = ["practitioner", "organization", "role"] as const;
export type GranteeKind = (typeof GRANTEE_KINDS)[number];

/** Practitioner roles within an organization, stored on chain as bytes32 of the name. */
export const PRACTITIONER_ROLES = [
  "physician",
  "nurse",
  "pharmacist",
  "lab-technician",
  "researcher",
  "admin",
  "issuer",
  "care-coordinator",
] as const;
export type PractitionerRole = (typeof PRACTITIONER_ROLES)[number];

export const ORGANIZATION_KINDS = [
  "hospital",
  "clinic",
  "pharmacy",
  "lab",
  "insurer",
  "research",
  "issuer",
] as const;
export type OrganizationKind = (typeof ORGANIZATION_KINDS)[number];

/** Every category bit defined above; a mask with bits outside it is malformed (or a careless "all"). */
export const KNOWN_CATEGORY_MASK = categoryMask(CATEGORIES);
export const KNOWN_PURPOSE_MASK = purposeMask(PURPOSES);
export const KNOWN_ACTION_MASK = actionMask(ACTIONS);
