/**
 * The audit seam: one `Auditor` bound to the node, through which every room records an access,
 * denial, change, release, payout, issuance or alert. Callers state the facts; the auditor builds
 * the entry (no room writes one literally) and hands it to the batched, durable log.
 */
import type { Address, Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { Category } from "../model/vocabulary.js";
import type { AuditAction, AuditEntry } from "./auditEntry.js";

/** Where entries go: the audit log's batched append, resolving with the index once durable. */
export interface AuditAppender {
  enqueue(entry: AuditEntry): Promise<number>;
}

/** What happened, without who did it (the principal) or where (the node). No PHI. */
export interface AuditFacts {
  action: AuditAction;
  decision: "permit" | "deny";
  patient?: string | undefined;
  resources?: string[] | undefined;
  categories?: readonly Category[] | undefined;
  reason?: string | undefined;
}

let isoMs = Number.NaN;
let iso = "";

/** The current time as an ISO 8601 string, formatted once per millisecond (it costs ~0.8 us). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    iso = new Date(ms).toISOString();
    isoMs = ms;
  }
  return iso;
}

/** Records every room's audit entries for one node. */
export class Auditor {
  readonly #observers: ((entry: Readonly<AuditEntry>) => void)[] = [];

  /**
   * @param log - The node's audit log (batched append).
   * @param node - The node's account, named in every entry.
   */
  constructor(
    private readonly log: AuditAppender,
    readonly node: string,
  ) {}

  /**
   * Records what a principal did or was refused.
   * @param principal - Who acted, under which purpose, in which request.
   * @param facts - What happened.
   * @returns The entry's index in the log, once it is durable.
   */
  record(principal: Principal, facts: AuditFacts): Promise<number> {
    const entry = this.entryFor(principal, facts);
    if (this.#observers.length > 0) this.#tell(entry);
    return this.log.enqueue(entry);
  }

  /**
   * Calls `observer` with every entry recorded from now on, before it is appended (patients'
   * access notifications). Observers run synchronously on the request's path: keep them cheap;
   * one that throws is ignored and never stops the entry.
   */
  observe(observer: (entry: Readonly<AuditEntry>) => void): void {
    this.#observers.push(observer);
  }

  #tell(entry: AuditEntry): void {
    for (const observer of this.#observers) {
      try {
        observer(entry);
      } catch {
        // an observer's failure must never lose or delay the entry
      }
    }
  }

  /**
   * Records a change the patient signed and the ledger carried (a consent grant or revoke), as
   * applied by this node: the patient is the actor, the transaction is the request.
   * @param patient - The signing patient's account.
   * @param transactionHash - The ledger transaction that carried the signed message.
   * @param facts - What happened.
   * @returns The entry's index in the log, once it is durable.
   */
  recordSigned(patient: Address, transactionHash: Hex, facts: Omit<AuditFacts, "patient">): Promise<number> {
    const entry: AuditEntry = {
      v: 1,
      time: isoNow(),
      requestId: `tx:${transactionHash}`,
      actor: { account: patient },
      patient,
      action: facts.action,
      decision: facts.decision,
      node: this.node,
    };
    addFacts(entry, facts);
    if (this.#observers.length > 0) this.#tell(entry);
    return this.log.enqueue(entry);
  }

  /** Builds the entry `record` appends (exposed for tests and benches that time the append alone). */
  entryFor(principal: Principal, facts: AuditFacts): AuditEntry {
    const entry: AuditEntry = {
      v: 1,
      time: isoNow(),
      requestId: principal.requestId,
      actor: {
        account: principal.account,
        ...(principal.organization ? { organization: principal.organization } : {}),
        ...(principal.role ? { role: principal.role } : {}),
      },
      action: facts.action,
      purpose: principal.purpose,
      decision: facts.decision,
      node: this.node,
    };
    if (facts.patient) entry.patient = facts.patient;
    addFacts(entry, facts);
    return entry;
  }
}

function addFacts(entry: AuditEntry, facts: Omit<AuditFacts, "patient">): void {
  if (facts.resources?.length) entry.resources = facts.resources.slice(0, 1000);
  if (facts.categories?.length) entry.categories = distinct(facts.categories);
  if (facts.reason) entry.reason = facts.reason;
}

/** The members of a short list, each once, in order (a Set would cost more for a handful). */
function distinct<T>(xs: readonly T[]): T[] {
  const out: T[] = [];
  for (const x of xs) if (!out.includes(x)) out.push(x);
  return out;
}

/** The patient as the audit log names them: their account, else a pseudonymous `patient:<id>`. */
export function auditPatient(
  patientId: string | null | undefined,
  account: Address | undefined,
): string | undefined {
  if (account) return account;
  return patientId ? `patient:${patientId}` : undefined;
}
