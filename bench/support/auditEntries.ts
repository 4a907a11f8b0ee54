/**
 * Realistic audit entries for the benches: what `RecordRepository` writes for a clinician's read,
 * search or denial (built by the same `Auditor`), spread over many patients and
 * practitioners of a few organizations.
 */
import { randomUUID } from "node:crypto";
import type { Address, Hex } from "viem";
import type { Principal } from "../../src/model/principal.js";
import type { AuditEntry } from "../../src/audit/auditEntry.js";
import type { Category } from "../../src/model/vocabulary.js";
import { Auditor } from "../../src/audit/auditor.js";

const hex = (n: number, bytes: number): string => n.toString(16).padStart(bytes * 2, "0");
const CATS: Category[] = ["labs", "medications", "conditions", "vitals", "immunizations"];
const TYPES = ["Observation", "MedicationRequest", "Condition", "Observation", "Immunization"];

/**
 * An entry generator.
 * @param node - the node address named in entries
 * @param patients - how many distinct patients entries are spread over
 * @returns entry `i` (deterministic but for the time and the resource ids, drawn once per generator)
 */
export function auditEntries(node: Address, patients = 50_000): (i: number) => AuditEntry {
  // Who and whose: in production these strings are already in memory (the session's principal,
  // the stored row's patient), so they are formatted once here, not on every access.
  const accounts = Array.from({ length: 2000 }, (_, who) => `0x${hex(0x100000 + who, 20)}` as Address);
  const organizations = Array.from({ length: 20 }, (_, o) => `0x${hex(1 + o, 32)}` as Hex);
  const patientIds = Array.from({ length: patients }, (_, p) => `0x${hex(0xa00000 + p, 20)}`);
  // Resource ids shaped like Synthea's (UUIDs); the reference itself is built per access, as
  // the records layer builds it from the row it read.
  const resourceIds = Array.from({ length: 4096 }, () => randomUUID());
  const auditor = new Auditor(
    { enqueue: () => Promise.reject(new Error("entries are only built here")) },
    node,
  );
  return (i) => {
    const p = (i * 7919) % patients;
    const who = (i * 31) % 2000;
    const principal: Principal = {
      account: accounts[who]!,
      kind: "practitioner",
      organization: organizations[who % 20]!,
      role: "physician",
      purpose: "TREAT",
      authenticatedBy: "siwe-session",
      requestId: `req-${i.toString(16)}`,
    };
    const k = i % 5;
    const deny = i % 17 === 0;
    return auditor.entryFor(principal, {
      action: deny ? "deny" : i % 7 === 0 ? "search" : "read",
      decision: deny ? "deny" : "permit",
      patient: patientIds[p],
      resources: [`${TYPES[k]}/${resourceIds[(i * 13) % 4096]}/_history/${1 + (i % 3)}`],
      categories: [CATS[k]!],
      reason: deny ? "no-grant" : undefined,
    });
  };
}
