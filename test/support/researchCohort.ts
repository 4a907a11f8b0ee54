/**
 * Synthetic research cohorts built on the Synthea fixtures (test/fixtures/synthea, copied from
 * ../shared/fixtures): patient i takes the Patient resource of fixture i mod 11 with every
 * identifying element kept (names, identifiers, telecom, address lines, city, mothers' maiden
 * names) but a fresh id and identifier values, a controlled sex and birth date, and a small record:
 * type 2 diabetes (SNOMED 44054006) when it matches, an HbA1c and a metformin prescription.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Hex, LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { FhirResource } from "../../src/records/fhirTypes.js";

const DIR = join(import.meta.dirname, "..", "fixtures", "synthea");
const FIXTURE_PATIENTS: FhirResource[] = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) =>
    (JSON.parse(readFileSync(join(DIR, f), "utf8")) as { entry: { resource: FhirResource }[] }).entry
      .map((e) => e.resource)
      .find((r) => r.resourceType === "Patient")!,
  );

export const DIABETES = "44054006";
export const HBA1C = "4548-4";
export const METFORMIN = "860975";

export interface SyntheticPatient {
  account: LocalAccount;
  /** The account's key (for tests that sign in through the CLI's keystore). */
  privateKey: Hex;
  patientId: string;
  /** The transaction Bundle written to the node. */
  bundle: FhirResource;
  resources: FhirResource[];
  matches: boolean;
  gender: "female" | "male";
}

/**
 * One synthetic patient.
 * @param i - Index (picks the fixture and makes ids unique).
 * @param tag - Distinguishes cohorts of different tests.
 * @param matches - Whether they have type 2 diabetes (the study's criterion).
 */
export function syntheticPatient(i: number, tag: string, matches: boolean): SyntheticPatient {
  const base = structuredClone(FIXTURE_PATIENTS[i % FIXTURE_PATIENTS.length]!);
  const gender = i % 2 === 0 ? "female" : "male";
  const patientId = `rs-${tag}-${i}`;
  const patient: FhirResource = {
    ...base,
    id: patientId,
    gender,
    // born 1961 to 1963: one 5-year band, aged 63 to 65
    birthDate: `${1961 + (i % 3)}-0${1 + (i % 9)}-1${i % 10}`,
    identifier: ((base.identifier as { value?: string }[] | undefined) ?? []).map((id) => ({
      ...id,
      value: `${String(id.value)}-${tag}-${i}`,
    })),
    address: ((base.address as Record<string, unknown>[] | undefined) ?? [{}]).map((a) => ({
      ...a,
      state: "Massachusetts",
      postalCode: `021${String(10 + (i % 80)).padStart(2, "0")}`,
    })),
  };
  const ref = { reference: `Patient/${patientId}` };
  const resources: FhirResource[] = [
    patient,
    ...(matches
      ? [
          {
            resourceType: "Condition",
            id: `${patientId}-dm`,
            clinicalStatus: {
              coding: [
                { system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" },
              ],
            },
            code: {
              coding: [
                { system: "http://snomed.info/sct", code: DIABETES, display: "Diabetes mellitus type 2" },
              ],
              text: `Diabetes noted by Dr. ${String((base.name as { family?: string }[])[0]?.family)}`,
            },
            subject: ref,
            onsetDateTime: "2015-04-02T10:00:00Z",
          },
        ]
      : [
          {
            resourceType: "Condition",
            id: `${patientId}-htn`,
            code: {
              coding: [{ system: "http://snomed.info/sct", code: "38341003", display: "Hypertension" }],
            },
            subject: ref,
            onsetDateTime: "2016-01-01T10:00:00Z",
          },
        ]),
    {
      resourceType: "Observation",
      id: `${patientId}-a1c`,
      status: "final",
      category: [
        {
          coding: [
            { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
          ],
        },
      ],
      code: { coding: [{ system: "http://loinc.org", code: HBA1C, display: "Hemoglobin A1c" }] },
      subject: ref,
      effectiveDateTime: "2026-10-0" + String(1 + (i % 9)) + "T09:00:00Z",
      valueQuantity: { value: 6 + (i % 5) * 0.5, unit: "%", system: "http://unitsofmeasure.org", code: "%" },
    },
    {
      resourceType: "MedicationRequest",
      id: `${patientId}-met`,
      status: "active",
      intent: "order",
      medicationCodeableConcept: {
        coding: [
          { system: "http://www.nlm.nih.gov/research/umls/rxnorm", code: METFORMIN, display: "metformin" },
        ],
      },
      subject: ref,
      authoredOn: "2020-02-02",
      note: [{ text: `Call ${String((base.telecom as { value?: string }[] | undefined)?.[0]?.value)}` }],
    },
  ];
  const privateKey = generatePrivateKey();
  return {
    account: privateKeyToAccount(privateKey),
    privateKey,
    patientId,
    resources,
    matches,
    gender,
    bundle: {
      resourceType: "Bundle",
      type: "transaction",
      entry: resources.map((r) => ({
        resource: r,
        request: { method: "PUT", url: `${r.resourceType}/${String(r.id)}` },
      })),
    },
  };
}

/** Every string in the source records that identifies a person, a place or a record. */
export function identifiersOf(resources: readonly FhirResource[]): Set<string> {
  const found = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === "string" && v.length >= 4) found.add(v.toLowerCase());
  };
  for (const r of resources) {
    add(r.id);
    for (const i of (r.identifier as { value?: string }[] | undefined) ?? []) add(i.value);
    for (const t of (r.telecom as { value?: string }[] | undefined) ?? []) add(t.value);
    for (const n of (r.name as { given?: string[]; family?: string }[] | undefined) ?? []) {
      add(n.family);
      for (const g of n.given ?? []) add(g);
    }
    for (const a of (r.address as { line?: string[]; city?: string; postalCode?: string }[] | undefined) ??
      []) {
      for (const l of a.line ?? []) add(l);
      add(a.city);
      add(a.postalCode);
    }
    if (r.resourceType === "Patient") add(r.birthDate);
  }
  return found;
}
