/**
 * Realistic audit entries for the benches: what `RecordRepository` writes for a clinician's read,
 * search or denial (built with the same `auditEntryFor`), spread over many patients and
 * practitioners of a few organizations.
 */
import type { Address, Hex } from "viem";
import type { Principal } from "../../src/access/principal.js";
import type { AuditEntry } from "../../src/audit/auditEntry.js";
import type { Category } from "../../src/consent/model.js";
import { auditEntryFor } from "../../src/records/recordAudit.js";

const hex = (n: number, bytes: number): string => n.toString(16).padStart(bytes * 2, "0");
const CATS: Category[] = ["labs", "medications", "conditions", "vitals", "immunizations"];
const TYPES = ["Observation", "MedicationRequest", "Condition", "Observation", "Immunization"];

/**
 * An entry generator.
 * @param node - the node address named in entries
 * @param patients - how many distinct patients entries are spread over
 * @returns entry `i` (deterministic but for the time)
 */
export function auditEntries(node: Address, patients = 50_000): (i: number) => AuditEntry {
  return (i) => {
    const p = (i * 7919) % patients;
    const who = (i * 31) % 2000;
    const principal: Principal = {
      account: `0x${hex(0x100000 + who, 20)}` as Address,
      kind: "practitioner",
      organization: `0x${hex(1 + (who % 20), 32)}` as Hex,
      role: "physician",
      purpose: "TREAT",
      authenticatedBy: "siwe-session",
      requestId: `req-${hex(i, 6)}`,
    };
    const k = i % 5;
    const deny = i % 17 === 0;
    return auditEntryFor(principal, node, {
      action: deny ? "deny" : i % 7 === 0 ? "search" : "read",
      decision: deny ? "deny" : "permit",
      patient: `0x${hex(0xa00000 + p, 20)}`,
      resources: [`${TYPES[k]}/${hex(i, 16)}-${hex(p, 4)}/_history/1`],
      categories: [CATS[k]!],
      reason: deny ? "no-grant" : undefined,
    });
  };
}
