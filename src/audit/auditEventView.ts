import { openedEntry, opens, type AuditEntry, type LoggedAuditEntry } from "./auditEntry.js";

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

const EXT = "https://carechain.dev/fhir/StructureDefinition";

/**
 * Whether a version 2 entry's facts were opened: `verified` when the opening opens the commitment,
 * `mismatch` when one was given that does not, `unavailable` when none was (the patient erased
 * their record); undefined for an entry without commitment.
 */
type OpeningStatus = "verified" | "mismatch" | "unavailable";

/**
 * The FHIR R4 AuditEvent view of one audit-log entry (https://hl7.org/fhir/R4/auditevent.html):
 * a version 2 entry's categories and reason come from its opening, checked against the entry's
 * commitment first (`extension` `opening` says how that went; categories are listed in
 * `extension` `category`).
 * @param index - the entry's index in the node's log (its id)
 * @param stored - the entry as stored (hashed)
 * @param opening - the opening of its commitment, when the node holds one
 */
export function toAuditEvent(
  index: number,
  stored: AuditEntry | LoggedAuditEntry,
  opening?: unknown,
): Record<string, unknown> {
  const logged = stored as LoggedAuditEntry;
  let status: OpeningStatus | undefined;
  let entry: AuditEntry | LoggedAuditEntry = stored;
  if (logged.commitment !== undefined) {
    if (opening === undefined || opening === null) status = "unavailable";
    else if (opens(logged, opening)) {
      status = "verified";
      entry = openedEntry(logged, opening);
    } else status = "mismatch";
  }
  const extension = [
    ...(entry.categories ?? []).map((c) => ({ url: `${EXT}/category`, valueCode: c })),
    ...(status === undefined ? [] : [{ url: `${EXT}/opening`, valueCode: status }]),
  ];
  return {
    ...(extension.length > 0 ? { extension } : {}),
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
