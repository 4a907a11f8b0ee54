import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import { planBundleImport } from "./bundlePlan.js";
import { categorize } from "./categorize.js";
import { patientOf } from "./searchIndex.js";
import { validateResource } from "./validateResource.js";

const FIXTURES = new URL("../../test/fixtures/synthea/", import.meta.url);
const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));

function referencesIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) referencesIn(item, out);
  else if (typeof node === "object" && node !== null)
    for (const [k, v] of Object.entries(node)) {
      if (k === "reference" && typeof v === "string") out.push(v);
      else referencesIn(v, out);
    }
  return out;
}

describe.each(files)("planBundleImport(%s)", (file) => {
  const bundle = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as { entry: unknown[] };
  const plan = planBundleImport(bundle);
  const local = new Set(plan.entries.map((e) => `${e.resource.resourceType}/${e.resource.id ?? ""}`));

  it("keeps every entry and puts the Patient first", () => {
    expect(plan.entries).toHaveLength(bundle.entry.length);
    expect(plan.entries[0]?.resource.resourceType).toBe("Patient");
    expect(plan.entries.every((e) => e.method === "POST")).toBe(true);
  });

  it("resolves every reference to an entry of the plan, or keeps it contained-local", () => {
    const refs = plan.entries.flatMap((e) => referencesIn(e.resource));
    expect(refs.length).toBeGreaterThan(100);
    expect(refs.filter((r) => !r.startsWith("#") && !local.has(r))).toEqual([]);
    expect(refs.some((r) => r.startsWith("urn:"))).toBe(false);
  });

  it("yields resources that validate, have a category and belong to the patient", () => {
    const patientId = plan.entries[0]?.resource.id;
    for (const { resource } of plan.entries) {
      expect(validateResource(resource)).toBe(resource);
      expect(categorize(resource).length).toBeGreaterThan(0);
      if (!["Organization", "Practitioner"].includes(resource.resourceType))
        expect(patientOf(resource)).toBe(patientId);
    }
  });

  it("does not modify the input bundle", () => {
    const again = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as unknown;
    expect(bundle).toEqual(again);
  });
});

const UUID_P = "11111111-1111-4111-8111-111111111111";
const UUID_O = "22222222-2222-4222-8222-222222222222";
const UUID_E = "33333333-3333-4333-8333-333333333333";
const SYNTHEA = "https://github.com/synthetichealth/synthea";

/** The shape newer Synthea R4 writes: conditional references to ifNoneExist entries. */
function conditionalBundle(withOrganization: boolean): unknown {
  const entries: unknown[] = [
    {
      fullUrl: `urn:uuid:${UUID_E}`,
      resource: {
        resourceType: "Encounter",
        status: "finished",
        class: { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "AMB" },
        subject: { reference: `urn:uuid:${UUID_P}` },
        serviceProvider: { reference: `Organization?identifier=${SYNTHEA}|org-1`, display: "Clinic" },
        participant: [
          { individual: { reference: "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|999" } },
        ],
        extension: [{ url: "http://example.org/ext", valueReference: { reference: `urn:uuid:${UUID_P}` } }],
      },
      request: { method: "POST", url: "Encounter" },
    },
    {
      fullUrl: `urn:uuid:${UUID_P}`,
      resource: { resourceType: "Patient" },
      request: { method: "POST", url: "Patient" },
    },
  ];
  if (withOrganization)
    entries.push({
      fullUrl: `urn:uuid:${UUID_O}`,
      resource: {
        resourceType: "Organization",
        identifier: [{ system: SYNTHEA, value: "org-1" }],
        name: "Clinic",
      },
      request: { method: "POST", url: "Organization", ifNoneExist: `identifier=${SYNTHEA}|org-1` },
    });
  return { resourceType: "Bundle", type: "transaction", entry: entries };
}

describe("planBundleImport with conditional references", () => {
  it("resolves them to entries of the bundle by identifier, keeps ifNoneExist, orders Patient then directory", () => {
    const plan = planBundleImport(conditionalBundle(true));
    expect(plan.entries.map((e) => e.resource.resourceType)).toEqual([
      "Patient",
      "Organization",
      "Encounter",
    ]);
    expect(plan.entries[0]?.resource.id).toBe(UUID_P);
    expect(plan.entries[1]?.ifNoneExist).toBe(`identifier=${SYNTHEA}|org-1`);
    const enc = plan.entries[2]?.resource as Record<string, unknown>;
    expect(enc.subject).toEqual({ reference: `Patient/${UUID_P}` });
    expect(enc.serviceProvider).toEqual({ reference: `Organization/${UUID_O}`, display: "Clinic" });
    expect(enc.extension).toEqual([
      { url: "http://example.org/ext", valueReference: { reference: `Patient/${UUID_P}` } },
    ]);
  });

  it("turns unresolved ones into logical references by identifier", () => {
    const plan = planBundleImport(conditionalBundle(false));
    const enc = plan.entries.find((e) => e.resource.resourceType === "Encounter")?.resource as Record<
      string,
      unknown
    >;
    expect(enc.serviceProvider).toEqual({
      display: "Clinic",
      type: "Organization",
      identifier: { system: SYNTHEA, value: "org-1" },
    });
    expect(enc.participant).toEqual([
      {
        individual: {
          type: "Practitioner",
          identifier: { system: "http://hl7.org/fhir/sid/us-npi", value: "999" },
        },
      },
    ]);
  });

  it("uses PUT urls for ids and rejects other methods, dangling urn:uuid and non-identifier conditions", () => {
    const put = planBundleImport({
      resourceType: "Bundle",
      type: "transaction",
      entry: [{ resource: { resourceType: "Patient" }, request: { method: "PUT", url: "Patient/abc" } }],
    });
    expect(put.entries[0]).toMatchObject({ method: "PUT", resource: { id: "abc" } });
    const bad = (entry: unknown) => () =>
      planBundleImport({ resourceType: "Bundle", type: "transaction", entry: [entry] });
    expect(bad({ request: { method: "DELETE", url: "Patient/abc" } })).toThrow(BaseError);
    expect(bad({ request: { method: "DELETE", url: "Patient/abc" } })).toThrow(
      "Bundle.entry[0].request.method: only POST and PUT entries can be imported",
    );
    const obs = (reference: string) => ({
      resource: { resourceType: "Observation", status: "final", code: { text: "x" }, subject: { reference } },
      request: { method: "POST", url: "Observation" },
    });
    expect(bad(obs(`urn:uuid:${UUID_P}`))).toThrow(
      "Bundle.entry[0].resource: refers to a urn:uuid that is not in the bundle",
    );
    expect(bad(obs("Patient?name=x"))).toThrow(
      "Bundle.entry[0].resource: has a conditional reference that is not by identifier",
    );
  });

  it("rejects two entries with the same type and id", () => {
    const entry = {
      resource: { resourceType: "Patient", id: "same" },
      request: { method: "POST", url: "Patient" },
    };
    expect(() =>
      planBundleImport({ resourceType: "Bundle", type: "transaction", entry: [entry, entry] }),
    ).toThrow("Bundle.entry[1].resource.id: has the same type and id as an earlier entry");
  });

  it("plans a collection bundle without requests", () => {
    const plan = planBundleImport({
      resourceType: "Bundle",
      type: "collection",
      entry: [{ resource: { resourceType: "Patient" } }],
    });
    expect(plan.entries[0]?.method).toBe("POST");
    expect(plan.entries[0]?.resource.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("planBundleImport for callers that may not choose ids", () => {
  const file = files.find((f) => f.startsWith("Alfreda_Wyman"))!;
  const bundle = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as {
    entry: Array<{ fullUrl: string; resource: { resourceType: string; id: string } }>;
  };
  const serverIdFor = (type: string, given: string) =>
    createHash("sha256").update(`${type}|${given}`).digest("hex").slice(0, 32);
  const ids = (plan: ReturnType<typeof planBundleImport>) =>
    plan.entries.map((e) => `${e.resource.resourceType}/${e.resource.id ?? ""}`);

  it("derives the same server ids from the same source ids, never the source's own", () => {
    const first = planBundleImport(structuredClone(bundle), { serverIds: true, serverIdFor });
    const again = planBundleImport(structuredClone(bundle), { serverIds: true, serverIdFor });
    expect(ids(again)).toEqual(ids(first));
    const source = new Set(bundle.entry.map((e) => e.resource.id));
    for (const e of first.entries) {
      const directory = ["Organization", "Practitioner"].includes(e.resource.resourceType);
      expect(source.has(e.resource.id!)).toBe(directory);
      expect(e.derived === true).toBe(!directory);
    }
    // references inside the bundle follow the derived ids
    const planned = new Set(ids(first));
    for (const e of first.entries)
      for (const ref of referencesIn(e.resource))
        if (!ref.includes("?") && !ref.startsWith("#")) expect(planned.has(ref)).toBe(true);
  });

  it("points a matched conditional create at the stored resource and an unmatched conditional PUT at a create", () => {
    const input = structuredClone(bundle) as unknown as {
      entry: Array<{ resource: { resourceType: string }; request: Record<string, string> }>;
    };
    const patientIndex = input.entry.findIndex((e) => e.resource.resourceType === "Patient");
    input.entry[patientIndex]!.request.ifNoneExist = "identifier=http://example.org|1";
    const obs = input.entry.findIndex((e) => e.resource.resourceType === "Observation");
    input.entry[obs]!.request = { method: "PUT", url: "Observation?code=http://loinc.org|8302-2" };
    const plan = planBundleImport(input, {
      serverIds: true,
      serverIdFor,
      conditional: { existing: new Map([[patientIndex, "stored-patient"]]), updates: new Map() },
    });
    const patient = plan.entries.find((e) => e.resource.resourceType === "Patient")!;
    expect(patient.resource.id).toBe("stored-patient");
    expect(patient.matched).toBe(true);
    const subjects = plan.entries
      .filter((e) => e.resource.resourceType === "Encounter")
      .map((e) => (e.resource.subject as { reference: string }).reference);
    expect(new Set(subjects)).toEqual(new Set(["Patient/stored-patient"]));
    const put = plan.entries.find((e) => e.fullUrl === bundle.entry[obs]!.fullUrl)!;
    expect(put.method).toBe("POST");
    expect(put.derived).toBeUndefined();
  });
});
