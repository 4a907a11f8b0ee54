import type { Address } from "viem";
import type { Principal } from "../access/principal.js";
import type { AuditAction, AuditEntry } from "../audit/auditEntry.js";
import type { Category } from "../consent/model.js";

/** The one call every room uses to record an access, denial or change (batched underneath). */
export interface AuditSink {
  enqueue(entry: AuditEntry): Promise<number>;
}

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

/** Builds an audit entry from who is calling and what happened; no PHI goes in. */
export function auditEntryFor(principal: Principal, node: string, facts: AuditFacts): AuditEntry {
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
    node,
  };
  if (facts.patient) entry.patient = facts.patient;
  if (facts.resources?.length) entry.resources = facts.resources.slice(0, 1000);
  if (facts.categories?.length) entry.categories = [...new Set(facts.categories)];
  if (facts.reason) entry.reason = facts.reason;
  return entry;
}

/** The patient as the audit log names them: their account, else a pseudonymous `patient:<id>`. */
export function auditPatient(
  patientId: string | null | undefined,
  account: Address | undefined,
): string | undefined {
  if (account) return account;
  return patientId ? `patient:${patientId}` : undefined;
}
