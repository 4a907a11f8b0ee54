import { describe, expect, it } from "vitest";
import {
  allergy,
  condition,
  immunization,
  medication,
  observation,
  patient,
  ORG_A,
  ORG_B,
} from "../../test/support/guidanceFacts.js";
import type { FhirResource } from "../records/fhirTypes.js";
import { clinicalFacts } from "./clinicalFacts.js";
import { IPS_SECTIONS, patientSummary } from "./patientSummary.js";

const NOW = new Date("2026-06-15T00:00:00Z");
const OPTIONS = { now: NOW, fhirBase: "http://node.test/fhir", author: "0x" + "ab".repeat(32) };

interface Section {
  title: string;
  code: { coding: { system: string; code: string }[] };
  text: { div: string };
  entry?: { reference: string }[];
  emptyReason?: { coding: { code: string }[] };
}

function sectionsOf(bundle: FhirResource): Map<string, Section> {
  const entries = bundle.entry as { fullUrl: string; resource: FhirResource }[];
  const composition = entries[0]!.resource as FhirResource & { section: Section[] };
  return new Map(composition.section.map((s) => [s.code.coding[0]!.code, s]));
}

/**
 * The IPS document shape: a document Bundle whose first entry is a Composition of type 60591-5 with
 * a subject, date, author and title; every section coded by LOINC with narrative, and either entries
 * that resolve inside the Bundle or an emptyReason; the three required sections always present.
 */
function checkIpsShape(bundle: FhirResource): void {
  expect(bundle.resourceType).toBe("Bundle");
  expect(bundle.type).toBe("document");
  expect(typeof bundle.timestamp).toBe("string");
  expect((bundle.identifier as { value: string }).value).toMatch(/^urn:uuid:/);
  const entries = bundle.entry as { fullUrl: string; resource: FhirResource }[];
  const composition = entries[0]!.resource as FhirResource & Record<string, unknown>;
  expect(composition.resourceType).toBe("Composition");
  expect(composition.status).toBe("final");
  expect((composition.type as { coding: { system: string; code: string }[] }).coding[0]).toMatchObject({
    system: "http://loinc.org",
    code: "60591-5",
  });
  for (const key of ["subject", "date", "author", "title"]) expect(composition[key], key).toBeDefined();
  const urls = new Set(entries.map((e) => e.fullUrl));
  for (const e of entries)
    expect(e.fullUrl).toBe(`${OPTIONS.fhirBase}/${e.resource.resourceType}/${String(e.resource.id)}`);
  const known = new Set<string>(Object.values(IPS_SECTIONS).map((s) => s.code));
  const sections = sectionsOf(bundle);
  for (const [code, s] of sections) {
    expect(known.has(code), code).toBe(true);
    expect(s.code.coding[0]!.system).toBe("http://loinc.org");
    expect(s.text.div).toMatch(/^<div xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
    expect(s.entry !== undefined || s.emptyReason !== undefined).toBe(true);
    for (const ref of s.entry ?? [])
      expect(urls.has(`${OPTIONS.fhirBase}/${ref.reference}`), ref.reference).toBe(true);
  }
  for (const required of ["11450-4", "48765-2", "10160-0"])
    expect(sections.has(required), required).toBe(true);
}

describe("patient summary (IPS shape)", () => {
  it("merges a medication recorded at two organizations into one line naming both", () => {
    const resources: FhirResource[] = [
      patient(NOW, 60, "male"),
      medication("316049", "Hydrochlorothiazide 25 MG Oral Tablet", ORG_A),
      medication("316049", "Hydrochlorothiazide 25 MG Oral Tablet", ORG_B),
      condition("38341003", "Hypertension", ORG_B),
      allergy("Allergy to penicillin", "high", ORG_A),
      immunization("140", "2025-10-01", ORG_A),
      immunization("140", "2025-10-01", ORG_B),
      observation("4548-4", "2025-06-01", 5.5, "%", ORG_A),
      observation("4548-4", "2026-06-01", 6.1, "%", ORG_B),
    ];
    const names = new Map([[`0x${"aa".repeat(32)}`, "City Hospital"]]);
    const bundle = patientSummary(clinicalFacts(resources), { ...OPTIONS, organizationNames: names });
    checkIpsShape(bundle);
    const sections = sectionsOf(bundle);
    const meds = sections.get("10160-0")!;
    expect(meds.entry).toHaveLength(1);
    expect(meds.text.div.match(/<tr><td>/g)).toHaveLength(1);
    // a known organization by name, another by its id (both forms of meta.source)
    expect(meds.text.div).toContain("City Hospital; organization 0xbbbbbbbb…");
    expect(sections.get("11369-6")!.entry).toHaveLength(1);
    const results = sections.get("30954-2")!;
    expect(results.text.div).toContain("6.1 %");
    expect(results.text.div).toContain("↑ from 5.5 (2025-06-01)");
  });

  it("states an empty required section as 'unavailable', never 'withheld', and leaves out empty optional ones", () => {
    const bundle = patientSummary(clinicalFacts([patient(NOW, 40)]), OPTIONS);
    checkIpsShape(bundle);
    const sections = sectionsOf(bundle);
    expect([...sections.keys()].sort()).toEqual(["10160-0", "11450-4", "48765-2"]);
    for (const s of sections.values()) {
      expect(s.emptyReason?.coding[0]?.code).toBe("unavailable");
      expect(s.text.div).toContain("None in the records shared with you.");
      expect(JSON.stringify(s)).not.toMatch(/withheld/);
    }
  });

  it("escapes what records say before it goes into the narrative", () => {
    const bundle = patientSummary(
      clinicalFacts([patient(NOW, 40), condition("1", "<script>alert(1)</script> & more", ORG_A)]),
      OPTIONS,
    );
    const div = sectionsOf(bundle).get("11450-4")!.text.div;
    expect(div).not.toContain("<script>");
    expect(div).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more");
  });
});
