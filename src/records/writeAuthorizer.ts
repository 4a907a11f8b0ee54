/**
 * Who may write a record (docs/access-rules.md, "Writes"): the right on the version a write
 * replaces and on the new one, a patient that never changes, directory resources written only by
 * their owning organization. Refusals are audited in the log of the patient aimed at.
 */
import type { Hex } from "viem";
import { auditPatient, type Auditor } from "../audit/auditor.js";
import type { ConsentGate } from "../consent/consentGate.js";
import type { Decision } from "../consent/decide.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import { categoriesOf } from "../model/vocabulary.js";
import { isOperator, isRecorder, notKnown, writeRefused } from "./accessDecision.js";
import type { FhirResource } from "./fhirTypes.js";
import type { PatientLinks } from "./patientLinks.js";
import type { WriteTarget } from "./recordPrepare.js";
import { DIRECTORY_TYPES } from "./recordWrite.js";

export interface WriteAuthorizerDeps {
  organizationId: Hex;
  gate: ConsentGate;
  keyring: PatientKeyring;
  auditor: Auditor;
  links: PatientLinks;
}

/** Decides and audits every write the records layer prepares. */
export class WriteAuthorizer {
  readonly #d: WriteAuthorizerDeps;

  constructor(deps: WriteAuthorizerDeps) {
    this.#d = deps;
  }

  /**
   * The write rule (docs/access-rules.md, "Writes"): the writer needs the right on the version it
   * replaces (its own patient, categories and author) and on the new one; a resource never changes
   * patient; a directory resource is written only by its owning organization. A refusal is audited
   * in the log of the patient whose record was aimed at; one on a version the writer may not even
   * see answers as a missing resource does.
   * @returns the organization the new version is recorded as
   */
  async authorize(principal: Principal, t: WriteTarget): Promise<string> {
    const own = this.#d.organizationId.toLowerCase();
    if (t.patientId === undefined && DIRECTORY_TYPES.has(t.type)) return this.#directory(principal, t);
    const ref = `${t.type}/${t.id}`;
    const operator = isOperator(principal, own);
    const current = t.current;
    if (current !== undefined) {
      const account = await this.#d.links.accountOf(current.patientId);
      const refuse = async (reason: string) =>
        this.#d.auditor.record(principal, {
          action: t.intent === "delete" ? "delete" : "update",
          decision: "deny",
          patient: auditPatient(current.patientId, account),
          resources: [`${ref}/_history/${current.versionId}`],
          categories: categoriesOf(current.categories),
          reason,
        });
      if (!operator) {
        const categories = categoriesOf(current.categories);
        const erased =
          current.patientId !== null && (await this.#d.keyring.isErased(`Patient/${current.patientId}`));
        const read = erased
          ? ({ permit: false, reason: "no-grant" } as Decision)
          : this.#d.gate.forPatient(principal, account, "read").decide(categories, current.authorOrg);
        const write = this.#d.gate.forPatient(principal, account, "write").decide(categories, undefined);
        // the authoring organization amends what it may read under its rule; anyone else needs a write grant
        if (!erased && !write.permit && read.reason !== "author-organization") {
          await refuse(`write: ${read.permit ? write.reason : read.reason}`);
          throw read.permit ? writeRefused() : notKnown(t.type);
        }
      }
      if ((current.patientId ?? undefined) !== t.patientId) {
        await refuse("a resource never changes patient");
        throw new BaseError("conflict", "a resource never changes patient: keep its subject", {
          code: "business-rule",
          expression: `${t.type}.${patientElement(t.resource)}`,
        });
      }
    }
    if (operator) return own;
    const recorder = isRecorder(principal, own);
    if (current === undefined && t.intent === "update" && !recorder) throw notKnown(t.type);
    if (recorder) return own;
    const d = this.#d.gate.forPatient(principal, t.account, "write").decide(t.categories, undefined);
    if (d.permit) return own;
    await this.#d.auditor.record(principal, {
      action: t.intent === "delete" ? "delete" : current ? "update" : "create",
      decision: "deny",
      patient: auditPatient(t.patientId, t.account),
      resources: [ref],
      categories: t.categories,
      reason: `write: ${d.reason}`,
    });
    throw writeRefused();
  }

  /**
   * Directory resources belong to the organization that first wrote them: only its practitioners
   * (and this node's own jobs and node principal) write them, and they stay recorded as its.
   */
  async #directory(principal: Principal, t: WriteTarget): Promise<string> {
    const owner = t.current?.authorOrg.toLowerCase();
    const own = this.#d.organizationId.toLowerCase();
    if (isOperator(principal, own)) return owner ?? own;
    const org = principal.organization?.toLowerCase();
    if (principal.kind === "practitioner" && org !== undefined && (owner === undefined || owner === org))
      return org;
    await this.#d.auditor.record(principal, {
      action: t.current ? "update" : "create",
      decision: "deny",
      resources: [`${t.type}/${t.id}`],
      reason: "directory resources are written by their owning organization",
    });
    throw new BaseError("forbidden", "directory resources are written only by their owning organization", {
      code: "forbidden",
    });
  }
}

/** The element through which a resource names its patient, for error messages. */
function patientElement(resource: FhirResource): string {
  for (const name of ["subject", "patient", "beneficiary"]) if (resource[name] !== undefined) return name;
  return "subject";
}
