import { zeroAddress, type Address, type Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { BreakGlassSessions } from "./breakGlass.js";
import { decide, type Decision, type DecisionRequest } from "./decide.js";
import type { GrantIndex } from "./grantIndex.js";
import { isSensitive, type Action, type Category } from "../model/vocabulary.js";

/** Decides, for one principal and one patient, on resources by their categories and author. */
export interface PatientDecider {
  readonly patientAccount: Address | undefined;
  decide(categories: readonly Category[], authorOrganization: string | undefined): Decision;
}

/**
 * The decider: the single entry point through which the records layer (and federation) asks
 * consent. It takes what a decision needs beyond the grant index (an open break-glass session,
 * which carries the patient's permission) once per request from memory, then calls `decide()` per
 * category: a resource is permitted only when every one of its categories is. No database read:
 * the grant index and the open sessions follow other processes' changes in the background
 * (src/store/sharedState.ts).
 */
export class ConsentGate {
  constructor(
    readonly index: GrantIndex,
    private readonly breakGlass: Pick<BreakGlassSessions, "active">,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /**
   * A decider for `principal` on the patient whose account is `patientAccount` (undefined when the
   * record has no linked account: then only its authoring organization and system jobs may act).
   */
  forPatient(principal: Principal, patientAccount: Address | undefined, action: Action): PatientDecider {
    return new Decider(this.index, patientAccount, {
      principal: {
        account: principal.account,
        organization: principal.organization,
        role: principal.role,
        kind: principal.kind,
      },
      patient: patientAccount ?? zeroAddress,
      purpose: principal.purpose,
      action,
      time: this.now(),
      breakGlass: patientAccount ? this.breakGlass.active(principal.account, patientAccount) : undefined,
    });
  }
}

/** What one request's decisions share: all of a `DecisionRequest` but the category and author. */
type RequestTemplate = Omit<DecisionRequest, "category" | "authorOrganization">;

/** One request's decider: one object per request, its methods shared on the prototype. */
class Decider implements PatientDecider {
  readonly #memo = new Map<string, Decision>();

  constructor(
    private readonly index: GrantIndex,
    readonly patientAccount: Address | undefined,
    private readonly request: RequestTemplate,
  ) {}

  decide(categories: readonly Category[], authorOrganization: string | undefined): Decision {
    if (this.request.principal.kind === "system") return { permit: true, reason: "patient-self" };
    const key = `${categories.join(",")}|${authorOrganization ?? ""}`;
    const cached = this.#memo.get(key);
    if (cached) return cached;
    const result = combine(categories, this, authorOrganization as Hex | undefined);
    this.#memo.set(key, result);
    return result;
  }

  /** The decision on one category. */
  one(category: Category, authorOrganization: Hex | undefined): Decision {
    // A literal, not a spread of the template: the spread took the runtime's slow path, and was
    // most of a read's consent time.
    const r = this.request;
    return decide(this.index, {
      principal: r.principal,
      patient: r.patient,
      category,
      purpose: r.purpose,
      action: r.action,
      time: r.time,
      authorOrganization,
      breakGlass: r.breakGlass,
    });
  }
}

/**
 * A resource's categories combine so: every sensitive category must be permitted on its own (a
 * sensitive category is never implied), and among the ordinary ones any one permitted is enough
 * (they are facets of one record: a lab DiagnosticReport is labs and notes).
 */
function combine(categories: readonly Category[], decider: Decider, author: Hex | undefined): Decision {
  let ordinary: Decision | undefined;
  let sensitive: Decision | undefined;
  for (const category of categories) {
    if (isSensitive(category)) {
      const d = decider.one(category, author);
      if (!d.permit) return d;
      sensitive ??= d;
    } else if (!ordinary?.permit) {
      const d = decider.one(category, author);
      if (d.permit || ordinary === undefined) ordinary = d;
    }
  }
  if (ordinary && !ordinary.permit) return ordinary;
  return ordinary ?? sensitive ?? { permit: false, reason: "no-grant" };
}
