import type { Principal } from "../model/principal.js";
import type { Decision } from "../consent/decide.js";
import { BaseError } from "../errors/BaseError.js";

/** Directory resources (Organization, Practitioner, Location...) hold no patient data: any signed-in caller may read them. */
export function directoryDecision(_principal: Principal): Decision {
  return { permit: true, reason: "grant" };
}

/** The 403 a consent denial becomes (its reason is a code, never data). */
export function forbiddenFor(decision: Decision | undefined): BaseError {
  return new BaseError(
    "forbidden",
    `access denied by the patient's consent (${decision?.reason ?? "no-grant"})`,
    { code: "forbidden" },
  );
}
