import type { Principal } from "../model/principal.js";
import { AUTHOR_PURPOSES, AUTHOR_ROLES, type Decision } from "../consent/decide.js";
import { BaseError } from "../errors/BaseError.js";

/** Directory resources (Organization, Practitioner, Location...) hold no patient data: any signed-in caller may read them. */
export function directoryDecision(_principal: Principal): Decision {
  return { permit: true, reason: "grant" };
}

/**
 * What a caller without rights gets for a resource it may not see, and what anyone gets for one
 * that does not exist: the same 404, word for word, so the answer confirms neither existence nor
 * sensitivity (docs/access-rules.md, "Hidden is missing"). Names the type, never the id.
 */
export function notKnown(type: string): BaseError {
  return new BaseError("not-found", `no ${type} with this id`);
}

/** The 403 for a write refused on a record the caller may see (it names the rule, never a category). */
export function writeRefused(): BaseError {
  return new BaseError("forbidden", "not allowed to write this patient's record", { code: "forbidden" });
}

/**
 * Whether the principal records care for this node's organization: a practitioner of it in a
 * clinical role, acting for treatment or operations (the authoring-organization rule of
 * docs/access-rules.md). Such a writer may create records of any category for any patient of
 * the organization, and choose their ids (a source system's ids).
 */
export function isRecorder(principal: Principal, organizationId: string): boolean {
  return (
    principal.kind === "practitioner" &&
    principal.organization !== undefined &&
    principal.organization.toLowerCase() === organizationId.toLowerCase() &&
    AUTHOR_ROLES.has(principal.role ?? "") &&
    AUTHOR_PURPOSES.has(principal.purpose)
  );
}

/** The node's own jobs and its own node principal: trusted writers that bypass consent. */
export function isOperator(principal: Principal, organizationId: string): boolean {
  return (
    principal.kind === "system" ||
    (principal.kind === "node" && principal.organization?.toLowerCase() === organizationId.toLowerCase())
  );
}
