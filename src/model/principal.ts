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
export type AuthenticationMethod = "siwe-session" | "node-signature" | "local-keystore" | "system";

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
