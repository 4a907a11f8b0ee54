/**
 * The patient summary in the shape of the International Patient Summary
 * (https://hl7.org/fhir/uv/ips/): a FHIR `document` Bundle whose first entry is a Composition
 * (LOINC 60591-5) with one section per IPS heading, coded by LOINC, each with a narrative table and
 * references to its entries. It is built only from what the caller may see (clinicalFacts.ts), so
 * a section with nothing in it says "none in the records shared with you" and never why: its
 * emptyReason is always `unavailable`, never `withheld`, so an empty section cannot tell hidden data
 * from no data. A line recorded at several organizations (the same medication at a hospital and a
 * pharmacy) appears once, naming every source.
 */
import { randomUUID } from "node:crypto";
import type { FhirResource } from "../records/fhirTypes.js";
import { LOINC, type ClinicalFacts, type ObservationFact, type Sourced } from "./clinicalFacts.js";
import { LAB_TESTS } from "./data/labThresholds.js";

/** IPS section codes (LOINC) and titles, in document order. */
export const IPS_SECTIONS = {
  problems: { code: "11450-4", title: "Active Problems" },
  allergies: { code: "48765-2", title: "Allergies and Intolerances" },
  medications: { code: "10160-0", title: "Current Medications" },
  immunizations: { code: "11369-6", title: "Immunizations" },
  results: { code: "30954-2", title: "Results" },
  vitalSigns: { code: "8716-3", title: "Vital Signs" },
  procedures: { code: "47519-4", title: "History of Procedures" },
  encounters: { code: "46240-8", title: "Recent Encounters" },
  careTeam: { code: "85847-2", title: "Care Team" },
} as const;

/** Sections IPS requires even when empty. */
const REQUIRED: readonly (keyof typeof IPS_SECTIONS)[] = ["problems", "allergies", "medications"];

/** LOINC vital signs shown (newest of each). */
const VITALS: readonly string[] = [
  "85354-9",
  "55284-4",
  "8867-4",
  "9279-1",
  "2708-6",
  "59408-5",
  "8310-5",
  "8331-1",
  "29463-7",
  "8302-2",
  "39156-5",
];

/** Recent encounters and procedures listed. */
const RECENT = 10;

export interface SummaryOptions {
  /** When the summary is made. */
  now: Date;
  /** The FHIR base URL entries' fullUrls are made from (relative references resolve against it). */
  fhirBase: string;
  /** Organization id (bytes32 hex) of the node that makes it: the Composition's author. */
  author: string;
  /** Organization names by id (lowercase bytes32), for the "Recorded by" column. */
  organizationNames?: ReadonlyMap<string, string>;
}

interface Line {
  cells: string[];
  facts: Sourced[];
}

interface Section {
  key: keyof typeof IPS_SECTIONS;
  header: string[];
  lines: Line[];
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const day = (iso: string | undefined): string => (iso ?? "").slice(0, 10);

const round2 = (v: number): number => Math.round(v * 100) / 100;

function quantity(o: ObservationFact): string {
  if (o.components.length > 0) {
    return o.components
      .map(
        (c) =>
          `${c.display.replace(/ blood pressure$/i, "")} ${round2(c.value)}${c.unit ? ` ${c.unit}` : ""}`,
      )
      .join(", ");
  }
  return o.value === undefined ? "" : `${round2(o.value)}${o.unit ? ` ${o.unit}` : ""}`;
}

const SOURCE_RE = /^urn:carechain:org(?:anization)?:(0x[0-9a-f]{64})$/i;

/**
 * The organization id (lowercase bytes32) a `meta.source` names: the federation's
 * `urn:carechain:organization:<id>` or the records layer's `urn:carechain:org:<id>`.
 */
export function organizationOfSource(source: string): string | undefined {
  return SOURCE_RE.exec(source)?.[1]?.toLowerCase();
}

/** The newest observation per LOINC code among `codes`, with the one before it. */
function newestPerCode(
  observations: readonly ObservationFact[],
  codes: readonly string[],
): [ObservationFact, ObservationFact | undefined][] {
  const out: [ObservationFact, ObservationFact | undefined][] = [];
  for (const code of codes) {
    const series = observations.filter((o) => o.loinc === code);
    if (series[0] !== undefined) out.push([series[0], series[1]]);
  }
  return out;
}

function trend(latest: ObservationFact, previous: ObservationFact | undefined): string {
  if (previous?.value === undefined || latest.value === undefined || previous.unit !== latest.unit) return "";
  const arrow = latest.value > previous.value ? "↑" : latest.value < previous.value ? "↓" : "→";
  return `${arrow} from ${Math.round(previous.value * 100) / 100} (${day(previous.date)})`;
}

function sections(facts: ClinicalFacts): Section[] {
  const keyLabs = [...new Set(LAB_TESTS.flatMap((t) => t.loinc))];
  return [
    {
      key: "problems",
      header: ["Problem", "Since"],
      lines: facts.problems.map((p) => ({ cells: [p.code.display, day(p.onset)], facts: [p] })),
    },
    {
      key: "allergies",
      header: ["Allergy or intolerance", "Type", "Criticality"],
      lines: facts.allergies.map((a) => ({
        cells: [a.code.display, a.categories.join(", "), a.criticality ?? ""],
        facts: [a],
      })),
    },
    {
      key: "medications",
      header: ["Medication", "Since"],
      lines: facts.medications.map((m) => ({ cells: [m.code.display, day(m.authoredOn)], facts: [m] })),
    },
    {
      key: "immunizations",
      header: ["Vaccine", "Date"],
      lines: facts.immunizations.map((i) => ({ cells: [i.code.display, i.date], facts: [i] })),
    },
    {
      key: "results",
      header: ["Test", "Latest", "Date", "Trend"],
      lines: newestPerCode(facts.observations, keyLabs).map(([o, prev]) => ({
        cells: [o.code.display, quantity(o), day(o.date), trend(o, prev)],
        facts: [o],
      })),
    },
    {
      key: "vitalSigns",
      header: ["Vital sign", "Latest", "Date", "Trend"],
      lines: newestPerCode(facts.observations, VITALS).map(([o, prev]) => ({
        cells: [o.code.display, quantity(o), day(o.date), trend(o, prev)],
        facts: [o],
      })),
    },
    {
      key: "procedures",
      header: ["Procedure", "Date"],
      lines: facts.procedures
        .slice(0, RECENT)
        .map((p) => ({ cells: [p.code.display, day(p.date)], facts: [p] })),
    },
    {
      key: "encounters",
      header: ["Encounter", "Date"],
      lines: facts.encounters
        .slice(0, RECENT)
        .map((e) => ({ cells: [e.code.display, day(e.start)], facts: [e] })),
    },
    {
      key: "careTeam",
      header: ["Clinician"],
      lines: facts.careTeam.map((m) => ({ cells: [m.name], facts: [{ sources: m.sources, resources: [] }] })),
    },
  ];
}

function narrative(section: Section, sourceName: (s: string) => string): string {
  const head = [...section.header, "Recorded by"].map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const rows = section.lines
    .map((line) => {
      const sources = [...new Set(line.facts.flatMap((f) => f.sources))].map(sourceName).join("; ");
      return `<tr>${[...line.cells, sources].map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`;
    })
    .join("");
  return `<div xmlns="http://www.w3.org/1999/xhtml"><table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

const ref = (r: FhirResource): string | undefined =>
  typeof r.id === "string" ? `${r.resourceType}/${r.id}` : undefined;

/**
 * The IPS-shaped summary of what the caller may see, as a FHIR document Bundle.
 * @param facts - From {@link clinicalFacts} over the caller's `$everything`.
 * @param options - Time, author and source names.
 * @returns A `document` Bundle: Composition first, then the Patient and every referenced resource.
 */
export function patientSummary(facts: ClinicalFacts, options: SummaryOptions): FhirResource {
  const sourceName = (source: string): string => {
    const id = organizationOfSource(source);
    if (id === undefined) return source;
    return options.organizationNames?.get(id) ?? `organization ${id.slice(0, 10)}…`;
  };
  const included = new Map<string, FhirResource>();
  const include = (r: FhirResource): string | undefined => {
    const reference = ref(r);
    if (reference !== undefined && !included.has(reference)) included.set(reference, r);
    return reference;
  };
  const patientRef = facts.patient.resource ? include(facts.patient.resource) : undefined;

  const built = sections(facts)
    .filter((s) => s.lines.length > 0 || REQUIRED.includes(s.key))
    .map((s) => {
      const { code, title } = IPS_SECTIONS[s.key];
      const entries = s.lines
        .map((l) => l.facts[0]?.resources[0])
        .filter((r): r is FhirResource => r !== undefined)
        .map(include)
        .filter((r): r is string => r !== undefined);
      return {
        title,
        code: { coding: [{ system: LOINC, code, display: title }] },
        text: {
          status: "generated",
          div:
            s.lines.length > 0
              ? narrative(s, sourceName)
              : `<div xmlns="http://www.w3.org/1999/xhtml">None in the records shared with you.</div>`,
        },
        ...(entries.length > 0
          ? { entry: entries.map((reference) => ({ reference })) }
          : {
              emptyReason: {
                coding: [
                  {
                    system: "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    code: "unavailable",
                    display: "Unavailable",
                  },
                ],
              },
            }),
      };
    });

  const timestamp = options.now.toISOString();
  const composition: FhirResource = {
    resourceType: "Composition",
    id: randomUUID(),
    status: "final",
    type: { coding: [{ system: LOINC, code: "60591-5", display: "Patient summary Document" }] },
    ...(patientRef ? { subject: { reference: patientRef } } : {}),
    date: timestamp,
    author: [
      {
        identifier: { system: "urn:carechain:organization", value: options.author },
        display: "carechain node",
      },
    ],
    title: "Patient Summary",
    section: built,
  };
  const entry = [composition, ...included.values()].map((resource) => ({
    fullUrl: `${options.fhirBase.replace(/\/$/, "")}/${resource.resourceType}/${String(resource.id)}`,
    resource,
  }));
  return {
    resourceType: "Bundle",
    identifier: { system: "urn:ietf:rfc:3986", value: `urn:uuid:${randomUUID()}` },
    type: "document",
    timestamp,
    entry,
  };
}
