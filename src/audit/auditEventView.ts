import type { AuditEntry } from "./auditEntry.js";

const ACTION_CODE: Record<string, "C" | "R" | "U" | "D" | "E"> = {
  create: "C",
  read: "R",
  search: "E",
  update: "U",
  delete: "D",
  erase: "D",
  export: "R",
  fetch: "R",
  receive: "C",
  share: "R",
  release: "R",
};

/**
 * The FHIR R4 AuditEvent view of one audit-log entry (https://hl7.org/fhir/R4/auditevent.html).
 * @param index - the entry's index in the node's log (its id)
 */
export function toAuditEvent(index: number, entry: AuditEntry): Record<string, unknown> {
  return {
    resourceType: "AuditEvent",
    id: String(index),
    type: {
      system: "http://terminology.hl7.org/CodeSystem/audit-event-type",
      code: "rest",
      display: "RESTful Operation",
    },
    subtype: [{ system: "https://carechain.dev/fhir/CodeSystem/audit-action", code: entry.action }],
    action: ACTION_CODE[entry.action] ?? "E",
    recorded: entry.time,
    outcome: entry.decision === "permit" ? "0" : "4",
    ...(entry.reason ? { outcomeDesc: entry.reason } : {}),
    ...(entry.purpose
      ? {
          purposeOfEvent: [
            {
              coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActReason", code: entry.purpose }],
            },
          ],
        }
      : {}),
    agent: [
      {
        who: { identifier: { system: "https://carechain.dev/fhir/sid/account", value: entry.actor.account } },
        requestor: true,
        ...(entry.actor.role ? { role: [{ text: entry.actor.role }] } : {}),
        ...(entry.actor.organization
          ? {
              extension: [
                {
                  url: "https://carechain.dev/fhir/StructureDefinition/organization",
                  valueString: entry.actor.organization,
                },
              ],
            }
          : {}),
      },
    ],
    source: {
      observer: {
        identifier: { system: "https://carechain.dev/fhir/sid/node", value: entry.node ?? "unknown" },
      },
    },
    entity: [
      ...(entry.patient
        ? [
            {
              what: {
                identifier: { system: "https://carechain.dev/fhir/sid/account", value: entry.patient },
              },
              role: {
                code: "1",
                system: "http://terminology.hl7.org/CodeSystem/object-role",
                display: "Patient",
              },
            },
          ]
        : []),
      ...(entry.resources ?? []).map((r) => ({ what: { reference: r } })),
    ],
  };
}
