/**
 * The one door every read of health data passes (docs/access-rules.md): erasure, the consent
 * decision on each version by that version's own patient and categories, the audit entry in that
 * patient's log, and the patient's alert on a break-glass read. Read, vread, history, search,
 * `_include`, `$everything` and the federation's fetch all go through it; none opens a version
 * the gate did not let through.
 */
import type { Address } from "viem";
import { auditPatient, type Auditor } from "../audit/auditor.js";
import type { ConsentGate, PatientDecider } from "../consent/consentGate.js";
import type { Decision } from "../consent/decide.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import type { EventBus } from "../events/eventBus.js";
import type { Principal } from "../model/principal.js";
import { categoriesOf, type Category } from "../model/vocabulary.js";
import type { Candidate, StoredVersion } from "../store/recordColumns.js";
import { directoryDecision, notKnown } from "./accessDecision.js";
import type { FhirResource } from "./fhirTypes.js";
import type { PatientLinks } from "./patientLinks.js";
import type { RecordVault } from "./recordVault.js";
import { patientOf } from "./searchIndex.js";

export interface RecordGateDeps {
  gate: ConsentGate;
  keyring: PatientKeyring;
  auditor: Auditor;
  events: EventBus;
  links: PatientLinks;
  vault: RecordVault;
}

/** What consent withheld from one patient in a search or export. */
export interface Withheld {
  categories: Set<Category>;
  reason: string;
  account: Address | undefined;
}

/** The result of screening search or export candidates. */
export interface Screened {
  /** Candidates the principal may see, in their order. */
  permitted: Candidate[];
  /** Per patient: what was withheld and why. */
  withheld: Map<string, Withheld>;
  /** Candidates that passed the category filter (all of them without one). */
  considered: number;
}

/** The consent decision, or a refusal by the caller's SMART scope (reason `scope: <rule>`). */
type GateDecision = Omit<Decision, "reason"> & { reason: string };

/** One version judged: the decision, its patient's account, its categories (none when erased). */
interface Verdict {
  decision: GateDecision;
  account: Address | undefined;
  categories: Category[];
  mask: number;
  erased: boolean;
}

const ERASED: Decision = { permit: false, reason: "no-grant" };

export class RecordGate {
  readonly #d: RecordGateDeps;

  constructor(deps: RecordGateDeps) {
    this.#d = deps;
  }

  /**
   * One read of one version: decided, audited, alerted on break-glass.
   * @throws the 404 of a missing resource when the principal may not see it (or it is erased),
   *   and a 410 when it is a delete marker
   */
  async read(principal: Principal, row: StoredVersion): Promise<void> {
    const ref = `${row.type}/${row.id}`;
    const v = await this.#judge(principal, row, new Map(), false);
    if (v.erased) throw notKnown(row.type);
    const { decision, account } = v;
    await this.#d.auditor.record(principal, {
      action: decision.permit ? (decision.breakGlass ? "break-glass" : "read") : "deny",
      decision: decision.permit ? "permit" : "deny",
      patient: auditPatient(row.patient_id, account),
      resources: [`${ref}/_history/${row.version_id}`],
      categories: v.categories,
      reason: decision.reason,
    });
    if (decision.breakGlass && account)
      this.#d.events.emit("patient.alert", {
        account,
        kind: "break-glass-read",
        detail: { resource: ref, by: principal.account },
      });
    if (!decision.permit) throw notKnown(row.type);
    if (row.deleted) throw new BaseError("gone", `this ${row.type} was deleted`);
  }

  /**
   * The versions of `type/id` the principal may see, each decided by its own patient and
   * categories; one audit entry per patient whose versions were asked for.
   * @param rows - every version, newest first
   * @throws the 404 of a missing resource when no version may be seen
   */
  async history(
    principal: Principal,
    type: string,
    id: string,
    rows: StoredVersion[],
  ): Promise<StoredVersion[]> {
    const deciders = new Map<string, PatientDecider>();
    const allowed: StoredVersion[] = [];
    const byPatient = new Map<
      string,
      { allowed: number; seen: number; denied?: GateDecision; categories: Set<Category>; account?: Address }
    >();
    for (const row of rows) {
      const key = row.patient_id ?? "";
      const v = await this.#judge(principal, row, deciders, false);
      const tally = byPatient.get(key) ?? { allowed: 0, seen: 0, categories: new Set<Category>() };
      tally.seen++;
      if (v.account !== undefined) tally.account = v.account;
      for (const c of v.categories) tally.categories.add(c);
      if (v.decision.permit) {
        allowed.push(row);
        tally.allowed++;
      } else tally.denied ??= v.decision;
      byPatient.set(key, tally);
    }
    for (const [patientId, tally] of byPatient) {
      await this.#d.auditor.record(principal, {
        action: "read",
        decision: tally.allowed ? "permit" : "deny",
        patient: auditPatient(patientId || undefined, tally.account),
        resources: [`${type}/${id}`],
        categories: [...tally.categories],
        reason: tally.allowed
          ? `history: ${tally.allowed} of ${tally.seen} versions`
          : `history: ${tally.denied?.reason ?? "no-grant"}`,
      });
    }
    if (allowed.length === 0) throw notKnown(type);
    return allowed;
  }

  /**
   * The consent filter of a search or export, run on every candidate before counting. Erased
   * patients' candidates are left out as missing ones are.
   * @param only - a category mask: candidates touching none of it are not considered at all
   */
  async screen(principal: Principal, candidates: readonly Candidate[], only?: number): Promise<Screened> {
    const deciders = new Map<string, PatientDecider>();
    const permitted: Candidate[] = [];
    const withheld = new Map<string, Withheld>();
    let considered = 0;
    for (const c of candidates) {
      const v = await this.#judge(principal, c, deciders, true);
      if (v.erased) continue;
      if (only !== undefined && (v.mask & only) === 0) continue;
      considered++;
      if (v.decision.permit) permitted.push(c);
      else if (c.patient_id) {
        const w = withheld.get(c.patient_id) ?? {
          categories: new Set<Category>(),
          reason: v.decision.reason,
          account: v.account,
        };
        for (const cat of v.categories) w.categories.add(cat);
        withheld.set(c.patient_id, w);
      }
    }
    return { permitted, withheld, considered };
  }

  /**
   * The audit entries of a search or export: one per patient touched with what was returned, one
   * for the directory resources returned (they name no patient), one per patient with what
   * consent withheld (reason `search partly: ...` when that patient was also shown something).
   */
  async searched(
    principal: Principal,
    action: "search" | "export",
    resources: readonly FhirResource[],
    withheld: ReadonlyMap<string, Withheld>,
  ): Promise<void> {
    const returned = new Map<string, string[]>();
    const directory: string[] = [];
    for (const r of resources) {
      const pid = r.resourceType === "Patient" ? r.id : patientOf(r);
      if (!pid) {
        directory.push(`${r.resourceType}/${r.id}`);
        continue;
      }
      const list = returned.get(pid) ?? [];
      list.push(`${r.resourceType}/${r.id}`);
      returned.set(pid, list);
    }
    for (const [pid, refs] of returned) {
      await this.#d.auditor.record(principal, {
        action,
        decision: "permit",
        patient: auditPatient(pid, await this.#d.links.accountOf(pid)),
        resources: refs,
      });
    }
    if (directory.length > 0 || (resources.length === 0 && withheld.size === 0))
      await this.#d.auditor.record(principal, { action, decision: "permit", resources: directory });
    for (const [pid, w] of withheld) {
      await this.#d.auditor.record(principal, {
        action: "deny",
        decision: "deny",
        patient: auditPatient(pid, w.account),
        categories: [...w.categories],
        // "partly": the request showed this patient something else (an access, not a refusal)
        reason: `${action}${returned.has(pid) ? " partly" : ""}: ${w.reason}`,
      });
    }
  }

  /**
   * Decides one version by its own patient (a decider per patient, kept in `deciders`) and mask,
   * then narrows the decision by the caller's SMART scope, if any.
   * @param screening - a search or export result (a scope's `s` admits it as well as `r`)
   */
  #judge(
    principal: Principal,
    row: Pick<Candidate, "patient_id" | "categories" | "author_org" | "type" | "id" | "version_id">,
    deciders: Map<string, PatientDecider>,
    screening: boolean,
  ): Promise<Verdict> {
    const verdict = this.#consent(principal, row, deciders);
    const scope = principal.scope;
    // sessions carry no scope: their reads take no extra step
    if (scope === undefined) return verdict;
    return verdict.then((v) => {
      if (!v.decision.permit) return v;
      const pid = row.patient_id ?? null;
      const rule = scope.refusal(row.type, "r", pid);
      if (rule === undefined || (screening && scope.refusal(row.type, "s", pid) === undefined)) return v;
      return { ...v, decision: { permit: false, reason: `scope: ${rule}` } };
    });
  }

  /** The consent decision on one version (docs/access-rules.md "Reads"). */
  async #consent(
    principal: Principal,
    row: Pick<Candidate, "patient_id" | "categories" | "author_org" | "type" | "id" | "version_id">,
    deciders: Map<string, PatientDecider>,
  ): Promise<Verdict> {
    const patientId = row.patient_id;
    if (!patientId) {
      const mask = await this.#d.vault.mask(row);
      const categories = categoriesOf(mask);
      return { decision: directoryDecision(principal), account: undefined, categories, mask, erased: false };
    }
    let decider = deciders.get(patientId);
    if (decider === undefined) {
      decider = this.#d.gate.forPatient(principal, await this.#d.links.accountOf(patientId), "read");
      deciders.set(patientId, decider);
    }
    const account = decider.patientAccount;
    // an erased patient's masks went with their key: nothing to decide on, nothing to record
    if (await this.#d.keyring.isErased(`Patient/${patientId}`))
      return { decision: ERASED, account, categories: [], mask: 0, erased: true };
    const mask = await this.#d.vault.mask(row);
    const categories = categoriesOf(mask);
    return { decision: decider.decide(categories, row.author_org), account, categories, mask, erased: false };
  }
}
