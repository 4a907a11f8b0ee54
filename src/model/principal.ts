/**
 * Who is calling: the Principal every request carries into consent decisions, records and the
 * audit log. It is built once at the edge (session token, node signature, local keystore) and
 * never changes during the request.
 */
import { zeroAddress, type Address, type Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { PractitionerRole, Purpose } from "./vocabulary.js";

export type PrincipalKind = "patient" | "practitioner" | "node" | "system";

/** How the caller proved who they are. */
export type AuthenticationMethod =
  "siwe-session" | "smart-token" | "node-signature" | "local-keystore" | "system";

/** An interaction a SMART v2 scope names: create, read, update, delete, search. */
export type ScopeInteraction = "c" | "r" | "u" | "d" | "s";

/**
 * What a SMART access token lets its app do (built by src/smart/scopes.ts). It only narrows: the
 * consent decision still runs for the user the token speaks for, and this refuses on top of it.
 */
export interface AccessScope {
  /** The scopes granted, space-separated as in the token response. */
  readonly granted: string;
  /** The FHIR Patient id `patient/` scopes are bound to (the launch context), if any. */
  readonly patient?: string;
  /**
   * The scope rule refusing `interaction` on `type`, or undefined when the scope allows it.
   * @param patientId - the Patient the resource belongs to; null for a resource of no patient
   *   (directory resources); undefined when not known yet (a check by type alone, before any read)
   */
  refusal(type: string, interaction: ScopeInteraction, patientId?: string | null): string | undefined;
}

export interface Principal {
  /** Checksummed account (viem `getAddress`). */
  readonly account: Address;
  readonly kind: PrincipalKind;
  /** bytes32 organization id (lowercase hex) for practitioners and nodes. */
  readonly organization?: Hex;
  /** The practitioner's role within `organization`. */
  readonly role?: PractitionerRole;
  /** HL7 PurposeOfUse declared for this request. */
  readonly purpose: Purpose;
  readonly authenticatedBy: AuthenticationMethod;
  /** Correlates the request across logs and audit entries. */
  readonly requestId: string;
  /** Present when the caller is an app holding a SMART access token: what its scopes allow. */
  readonly scope?: AccessScope;
}

/**
 * The purpose a principal acts under when the request declares none: patients look at their own
 * data (PATRQT), clinicians and nodes treat (TREAT), internal jobs run operations (HOPERAT).
 * HL7 v3 ActReason: http://terminology.hl7.org/CodeSystem/v3-ActReason
 */
export function defaultPurpose(kind: PrincipalKind): Purpose {
  switch (kind) {
    case "patient":
      return "PATRQT";
    case "practitioner":
    case "node":
      return "TREAT";
    case "system":
      return "HOPERAT";
  }
}

/**
 * The principal of the node's own background jobs (indexer, anchoring, relayer): the zero
 * account, purpose HOPERAT. Never hand it to a request that came from outside.
 * @param requestId - Correlation id of the job run.
 */
export function systemPrincipal(requestId: string): Principal {
  return { account: zeroAddress, kind: "system", purpose: "HOPERAT", authenticatedBy: "system", requestId };
}

/**
 * Throws `forbidden` unless the principal is of one of the given kinds; narrows its type.
 * @param principal - The caller.
 * @param kinds - Kinds allowed here.
 */
export function requireKind<K extends PrincipalKind>(
  principal: Principal,
  ...kinds: K[]
): asserts principal is Principal & { readonly kind: K } {
  if (!(kinds as readonly PrincipalKind[]).includes(principal.kind)) {
    throw new BaseError("forbidden", `this action is reserved for ${kinds.join(" or ")} principals`, {
      details: `caller is a ${principal.kind}`,
    });
  }
}

/**
 * Throws `forbidden` unless the principal is a practitioner holding one of the given roles, and
 * returns its organization and role.
 * @param principal - The caller.
 * @param roles - Roles allowed here.
 */
export function requireRole(
  principal: Principal,
  ...roles: PractitionerRole[]
): { organization: Hex; role: PractitionerRole } {
  requireKind(principal, "practitioner");
  const { organization, role } = principal;
  if (organization === undefined || role === undefined || !roles.includes(role)) {
    throw new BaseError("forbidden", `this action is reserved for the roles ${roles.join(", ")}`, {
      details: `caller role is ${role ?? "none"}`,
    });
  }
  return { organization, role };
}

/**
 * Throws `forbidden` unless the principal acts for the given organization (a practitioner of it
 * or its node).
 * @param principal - The caller.
 * @param organization - bytes32 organization id.
 */
export function requireOrganization(principal: Principal, organization: Hex): void {
  if (principal.organization?.toLowerCase() !== organization.toLowerCase()) {
    throw new BaseError("forbidden", "caller does not act for this organization");
  }
}
