import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Session } from "../support/session.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "../security/attackNode.js";

/**
 * Issue 14, search: a clinician finds a patient by name (case and accent insensitive, prefix),
 * identifier, birth date and gender over HTTP, with `_revinclude`, `_summary`, `_elements`,
 * `_sort` and paging that stays put while patients are added; every result and total passes the
 * consent decision; what is not served is refused by name, or listed under lenient handling; the
 * CapabilityStatement advertises exactly what is accepted.
 */
const MRN = "http://hospital.example/mrn";

interface Bundle {
  total: number;
  link: Array<{ relation: string; url: string }>;
  entry: Array<{
    resource: Record<string, unknown> & { resourceType: string; id: string };
    search: { mode: string };
  }>;
}

describe.each(engines)("Patient search over HTTP (%s)", (engine) => {
  let n: AttackNode;
  let doc: Session;
  const ids = { a: "", b: "", c: "" };
  let importFor: (account: LocalAccount, resources: object[]) => Promise<void>;

  const search = async (s: Session, query: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${n.url}/fhir/${query}`, {
      headers: { authorization: `Bearer ${s.token}`, ...headers },
    });
    return {
      status: res.status,
      body: (await res.json()) as Bundle & { resourceType: string; issue?: Array<{ diagnostics: string }> },
    };
  };
  const matchIds = (b: Bundle) =>
    b.entry
      .filter((e) => e.search.mode === "match")
      .map((e) => e.resource.id)
      .sort();

  beforeAll(async () => {
    n = await startAttackNode(engine, "psearch");
    doc = await n.as(n.doc);
    importFor = async (account, resources) => {
      const bundle = {
        resourceType: "Bundle",
        type: "transaction",
        entry: resources.map((resource) => {
          const r = resource as { resourceType: string; id: string };
          return { resource, request: { method: "PUT", url: `${r.resourceType}/${r.id}` } };
        }),
      };
      const res = await doc.send("POST", "/fhir", bundle, undefined, {
        "x-patient-account": account.address,
      });
      if (res.status !== 200) throw new Error(`import failed: ${res.status} ${await res.text()}`);
    };
    ids.a = `ps-a-${engine}`;
    ids.b = `ps-b-${engine}`;
    await importFor(privateKeyToAccount(generatePrivateKey()), [
      {
        resourceType: "Patient",
        id: ids.a,
        name: [{ family: "Müller", given: ["José", "Anna"] }],
        gender: "female",
        birthDate: "1970-03-05",
        identifier: [{ system: MRN, value: "A-1" }],
      },
      {
        resourceType: "Observation",
        id: `${ids.a}-obs`,
        status: "final",
        code: { coding: [{ system: "http://loinc.org", code: "8302-2" }] },
        subject: { reference: `Patient/${ids.a}` },
        effectiveDateTime: "2024-01-01",
      },
    ]);
    await importFor(privateKeyToAccount(generatePrivateKey()), [
      {
        resourceType: "Patient",
        id: ids.b,
        name: [{ family: "MULLER-SMITH", given: ["Jo"] }],
        gender: "male",
        birthDate: "1985",
        identifier: [{ system: MRN, value: "B-2" }],
      },
    ]);
  }, 180_000);
  afterAll(async () => n?.dispose());

  it.each<[string, () => string[]]>([
    ["Patient?name=muller", () => [ids.a, ids.b]],
    ["Patient?family=M%C3%9CL", () => [ids.a, ids.b]],
    ["Patient?family=muller-s", () => [ids.b]],
    ["Patient?given=jos", () => [ids.a]],
    ["Patient?name=ANNA", () => [ids.a]],
    ["Patient?given=smith", () => []],
    ["Patient?name=muller&gender=male", () => [ids.b]],
    [`Patient?identifier=${encodeURIComponent(`${MRN}|A-1`)}`, () => [ids.a]],
    ["Patient?identifier=B-2", () => [ids.b]],
    [`Patient?identifier=${encodeURIComponent(`${MRN}|`)}`, () => [ids.a, ids.b]],
    ["Patient?identifier=%7CA-1", () => []],
    ["Patient?name=muller&birthdate=1970-03-05", () => [ids.a]],
    ["Patient?name=muller&birthdate=1970", () => [ids.a]],
    ["Patient?name=muller&birthdate=lt1980", () => [ids.a]],
    ["Patient?name=muller&birthdate=gt1980-06-01", () => [ids.b]],
    ["Patient?name=muller&birthdate=ge1985-01-01", () => [ids.b]],
    ["Patient?name=muller&birthdate=le1970-03-05", () => [ids.a]],
    ["Patient?name=muller&birthdate=ap1970-03", () => [ids.a]],
    ["Patient?name=muller&birthdate=eq1985-06", () => []],
  ])("GET %s finds the right patients", async (query, expected) => {
    const { status, body } = await search(doc, query);
    expect(status).toBe(200);
    expect(matchIds(body)).toEqual(expected().sort());
    expect(body.total).toBe(expected().length);
  });

  it("revincludes the patients' observations, shapes with _summary and _elements, sorts by birthdate", async () => {
    const rev = await search(doc, "Patient?name=muller&_revinclude=Observation:patient");
    expect(rev.body.entry.filter((e) => e.search.mode === "include").map((e) => e.resource.id)).toEqual([
      `${ids.a}-obs`,
    ]);
    const count = await search(doc, "Patient?name=muller&_summary=count");
    expect(count.body.total).toBe(2);
    expect(count.body.entry).toEqual([]);
    const elements = await search(doc, `Patient?_id=${ids.a}&_elements=birthDate`);
    const shaped = elements.body.entry[0]!.resource;
    expect(Object.keys(shaped).sort()).toEqual(["birthDate", "id", "meta", "resourceType"]);
    expect(JSON.stringify(shaped.meta)).toContain("SUBSETTED");
    const summary = await search(doc, `Patient?_id=${ids.a}&_summary=true`);
    expect(summary.body.entry[0]!.resource.name).toBeDefined();
    const sorted = await search(doc, "Patient?name=muller&_sort=-birthdate");
    expect(sorted.body.entry.map((e) => e.resource.id)).toEqual([ids.b, ids.a]);
    const byFamily = await search(doc, "Patient?name=muller&_sort=family");
    expect(byFamily.body.entry.map((e) => e.resource.id)).toEqual([ids.a, ids.b]);
  });

  it("pages by a next link that stays put while patients are added", async () => {
    const first = await search(doc, "Patient?family=muller&_sort=family&_count=1");
    expect(first.body.entry.map((e) => e.resource.id)).toEqual([ids.a]);
    const next = first.body.link.find((l) => l.relation === "next")?.url;
    expect(next).toContain("_cursor=");
    // the cursor (sealed) holds the sort key, a name, but not in clear
    const cursor = new URL(next ?? "", n.url).searchParams.get("_cursor") ?? "";
    expect(cursor.length).toBeGreaterThan(28);
    expect(Buffer.from(cursor, "base64url").toString("latin1").toLowerCase()).not.toContain("muller");
    // a patient sorting before the cursor arrives between the pages
    ids.c = `ps-c-${engine}`;
    await importFor(privateKeyToAccount(generatePrivateKey()), [
      { resourceType: "Patient", id: ids.c, name: [{ family: "Mullen" }] },
    ]);
    const second = await search(doc, (next ?? "").replace(/^\/fhir\//, ""));
    expect(second.status).toBe(200);
    expect(second.body.entry.map((e) => e.resource.id)).toEqual([ids.b]);
    expect(second.body.link.find((l) => l.relation === "next")).toBeUndefined();
    const forged = await search(
      doc,
      "Patient?family=muller&_sort=family&_count=1&_cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    expect(forged.status).toBe(400);
  });

  it("a practitioner without a grant, and another patient, find no hidden patient and count none", async () => {
    for (const who of [await n.as(n.gp), await n.as(n.p2.account), await n.as(n.researcher)]) {
      const { status, body } = await search(who, "Patient?name=muller");
      expect(status).toBe(200);
      expect(body.total).toBe(0);
      expect(body.entry).toEqual([]);
      const rev = await search(who, `Patient?_id=${ids.a}&_revinclude=Observation:patient`);
      expect(rev.body.total).toBe(0);
      expect(rev.body.entry).toEqual([]);
    }
    // the patient finds themself
    const self = await search(await n.as(n.p2.account), "Patient?family=two");
    expect(matchIds(self.body)).toEqual([n.p2.id]);
  });

  it.each<[string, string, string]>([
    ["unknown name", "Patient?colour=blue", "colour"],
    ["parameter of another type", "Patient?code=1234", "code"],
    ["unsupported modifier", "Patient?name:exact=Muller", "name"],
    ["unsupported prefix", "Patient?birthdate=sa1970", "birthdate"],
    ["_include:iterate", "Patient?_include:iterate=Patient:organization", "_include"],
    ["_revinclude not served", "Patient?_revinclude=Provenance:target", "_revinclude"],
    ["_summary=text", "Patient?_summary=text", "_summary"],
    ["_contained", "Patient?_contained=true", "_contained"],
    ["_sort not served", "Observation?_sort=code", "_sort"],
  ])(
    "refuses %s with a 400 naming the parameter, and lists it under lenient handling",
    async (_k, query, param) => {
      const strict = await search(doc, query);
      expect(strict.status).toBe(400);
      expect(strict.body.resourceType).toBe("OperationOutcome");
      const text = JSON.stringify(strict.body);
      expect(text).toContain(param);
      for (const value of ["blue", "1234", "Muller", "1970"])
        if (query.includes(value)) expect(text).not.toContain(value);
      const lenient = await search(doc, query, { prefer: "handling=lenient" });
      expect(lenient.status).toBe(200);
      const outcome = lenient.body.entry.find((e) => e.search.mode === "outcome");
      expect(outcome?.resource.resourceType).toBe("OperationOutcome");
      expect(JSON.stringify(outcome?.resource)).toContain(param);
    },
  );

  it("advertises in the CapabilityStatement exactly the search it accepts", async () => {
    const res = await fetch(`${n.url}/fhir/metadata`);
    expect(res.status).toBe(200);
    const cs = (await res.json()) as {
      rest: Array<{
        security: object;
        interaction: Array<{ code: string }>;
        resource: Array<{
          type: string;
          interaction: Array<{ code: string }>;
          searchParam?: Array<{ name: string; type: string }>;
          searchInclude?: string[];
          searchRevInclude?: string[];
          operation?: Array<{ name: string }>;
        }>;
      }>;
    };
    const rest = cs.rest[0]!;
    expect(rest.security).toBeDefined();
    expect(rest.interaction.map((i) => i.code)).toContain("transaction");
    const patient = rest.resource.find((r) => r.type === "Patient")!;
    expect(patient.operation?.map((o) => o.name)).toContain("everything");
    expect(patient.interaction.map((i) => i.code)).toEqual(
      expect.arrayContaining(["read", "vread", "update", "create", "search-type", "history-instance"]),
    );
    expect(patient.searchParam?.map((p) => p.name)).toEqual(
      expect.arrayContaining(["name", "family", "given", "identifier", "birthdate", "gender"]),
    );
    const sample: Record<string, string> = { token: "x", reference: "Patient/x", date: "2020", string: "a" };
    let walked = 0;
    for (const r of rest.resource) {
      for (const p of r.searchParam ?? []) {
        const { status } = await search(
          doc,
          `${r.type}?${p.name}=${encodeURIComponent(sample[p.type] ?? "x")}&_count=1`,
        );
        expect([r.type, p.name, status]).toEqual([r.type, p.name, 200]);
        walked++;
      }
      for (const inc of r.searchInclude ?? [])
        expect((await search(doc, `${r.type}?_include=${inc}&_count=1`)).status).toBe(200);
      for (const inc of r.searchRevInclude ?? [])
        expect((await search(doc, `${r.type}?_revinclude=${inc}&_count=1`)).status).toBe(200);
      if (r.searchParam) {
        const unadvertised = (await search(doc, `${r.type}?not-advertised=1`)).status;
        expect(unadvertised).toBe(400);
      }
    }
    expect(walked).toBeGreaterThan(100);
  }, 120_000);
});
