import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PATIENT_ACCOUNT_SYSTEM } from "../../../src/records/searchBundle.js";
import {
  badInputNode,
  expectNoInputLogged,
  expectOutcome,
  marker,
  phi,
  rowCounts,
  template,
  TYPES,
  type Answer,
  type Json,
  type Type,
} from "../../support/badInput.js";
import { signIn } from "../../support/session.js";
import { engines } from "../../support/stores.js";

const REQUIRED: Record<Type, string[]> = {
  Patient: [],
  Observation: ["status", "code"],
  Condition: ["subject"],
  Encounter: ["status", "class"],
  MedicationRequest: ["status", "intent", "subject", "medicationCodeableConcept"],
  Immunization: ["status", "vaccineCode", "patient", "occurrenceDateTime"],
  AllergyIntolerance: ["patient"],
};
const DATES: Record<Type, string> = {
  Patient: "birthDate",
  Observation: "effectiveDateTime",
  Condition: "onsetDateTime",
  Encounter: "period",
  MedicationRequest: "authoredOn",
  Immunization: "occurrenceDateTime",
  AllergyIntolerance: "recordedDate",
};

/** One defect that makes a valid resource invalid, and what the diagnostics must then say. */
interface Defect {
  apply(r: Json): void;
  says: RegExp;
  /** Found only when the resource is stored (after validation), so a bundle's message has no entry index. */
  late?: boolean;
}

const badDate = fc
  .tuple(
    fc.constantFrom(
      "2020-02-30",
      "2020-13-01",
      "1999-00-10",
      "20200101",
      "2020-01-01T25:00:00Z",
      "2020-01-01T10:00:00",
      "0000",
      "2020/01/01",
      "yesterday",
      "",
    ),
    fc.option(marker, { nil: undefined }),
  )
  .map(([d, m]) => (m === undefined ? d : `${d}${m}`));

function defectFor(type: Type): fc.Arbitrary<Defect> {
  const options: fc.Arbitrary<Defect>[] = [
    fc.constant(0).map(() => ({
      apply: (r) => void (r[phi()] = phi()),
      says: /has an element whose name is not a valid FHIR element name/,
    })),
    fc.oneof(marker, fc.constant("a b"), fc.constant("x".repeat(65)), fc.constant("")).map((id) => ({
      apply: (r) => void (r.id = id),
      says: /\.id: must be a FHIR id/,
    })),
    badDate.map((d) => ({
      apply: (r) => {
        if (DATES[type] === "period") r.period = { start: d };
        else r[DATES[type]] = d;
      },
      says: /must be a FHIR (date|dateTime)/,
    })),
    fc.constantFrom("note", "identifier", "subject", "code", "status", "gender").map((el) => ({
      apply: (r) => void (r[el] = null),
      says: /must not be null/,
    })),
    fc.integer({ min: 33, max: 60 }).map((depth) => ({
      apply: (r) => {
        let nested: Json = { text: phi() };
        for (let i = 0; i < depth; i++) nested = { part: nested };
        r.note = [nested];
      },
      says: /is nested too deeply/,
    })),
    marker.map((m) => ({
      apply: (r) => {
        const key = type === "Patient" || type === "Observation" ? "performer" : "recorder";
        r[key] = type === "Patient" || type === "Observation" ? [{ reference: m }] : { reference: m };
      },
      says: /must be Type\/id, an absolute URL/,
    })),
    marker.map((m) => ({
      apply: (r) => void (r.extension = [{ url: `${m} x`, valueString: m }]),
      says: /extension\[0\]\.url: must be a URI without whitespace/,
    })),
    marker.map((m) => ({
      apply: (r) => void (r.contained = [m]),
      says: /contained\[0\]: must be an object/,
    })),
    marker.map((m) => ({
      apply: (r) => void (r.note = [{ text: `\ud800${m}` }]),
      says: /not canonical JSON: found a string with a lone surrogate/,
      late: true,
    })),
  ];
  if (type === "Patient") {
    options.push(
      fc.oneof(marker, fc.integer()).map((v) => ({
        apply: (r) => void (r.active = v),
        says: /\.active: must be true or false/,
      })),
      marker.map((m) => ({ apply: (r) => void (r.name = m), says: /\.name: must be an array/ })),
    );
  } else {
    const subjectKey =
      REQUIRED[type].includes("patient") || type === "AllergyIntolerance" ? "patient" : "subject";
    options.push(
      fc.constantFrom(...REQUIRED[type]).map((el) => ({
        apply: (r) => void delete r[el],
        says: new RegExp(`${el.replace(/(CodeableConcept|DateTime)$/, "\\[x\\]")}: is required`),
      })),
      marker.map((m) => ({
        apply: (r) => void (r[subjectKey] = m),
        says: new RegExp(`${subjectKey}: must be a Reference object`),
      })),
    );
  }
  if (REQUIRED[type].includes("status")) {
    options.push(
      fc
        .oneof(
          fc.integer(),
          fc.boolean(),
          fc.array(marker, { minLength: 1 }),
          marker.map((m) => ` ${m}  x`),
        )
        .map((v) => ({
          apply: (r) => void (r.status = v),
          says: /status: must be (a string|a code)/,
        })),
    );
  }
  return fc.oneof(...options);
}

const malformed = fc
  .constantFrom(...TYPES)
  .chain((type) =>
    fc.record({
      type: fc.constant(type),
      defect: defectFor(type),
      noise: fc.array(marker, { maxLength: 3 }),
      route: fc.constantFrom("create", "update-new", "update-existing", "bundle", "collection"),
    }),
  )
  .map(({ type, defect, noise, route }) => {
    const resource = template(type);
    if (noise.length) resource.identifier = noise.map((value) => ({ system: "urn:test", value }));
    defect.apply(resource);
    return { type, resource, defect, route };
  });

/**
 * Bad input to the FHIR write routes (create, update, bundle import) and resource types, on a real
 * node (anvil + SQLite or PostgreSQL): every refusal is a 4xx FHIR OperationOutcome naming the
 * problem, never a 500, never an echo of an input value (nor a log line holding one), and never a
 * partial write.
 */
describe.each(engines)("bad input: FHIR writes (%s)", (engine) => {
  const edge = badInputNode(engine);
  const { ask, mallory } = edge;

  it("refuses malformed FHIR on create, update and bundle import with a 400 naming the problem, writing nothing", async () => {
    const { node, docSession } = edge;
    await fc.assert(
      fc.asyncProperty(malformed, async ({ type, resource, defect, route }) => {
        const before = await rowCounts(node);
        const token = docSession.token;
        let answer: Answer;
        let says = defect.says;
        if (route === "create") answer = await ask("POST", `/fhir/${type}`, { body: resource, token });
        else if (route === "update-new" || route === "update-existing") {
          const id =
            route === "update-new"
              ? `new-${randomUUID()}`
              : type === "Patient"
                ? "pat-1"
                : `${type.toLowerCase()}-seed`;
          if (resource.id === undefined) resource.id = id;
          answer = await ask("PUT", `/fhir/${type}/${id}`, { body: resource, token });
        } else {
          const good = (t: Type) => ({
            resource: { ...template(t), id: `ok-${randomUUID()}` },
            request: { method: "POST", url: t },
          });
          const bundle = {
            resourceType: "Bundle",
            type: route === "bundle" ? "transaction" : "collection",
            entry: [
              good("Observation"),
              { resource, request: { method: "POST", url: type } },
              good("Condition"),
            ],
          };
          answer = await ask("POST", "/fhir", { body: bundle, token });
          if (!defect.late) says = new RegExp(`Bundle\\.entry\\[1\\]\\.resource.*(${defect.says.source})`);
        }
        expectOutcome(answer, 400, says);
        expect(await rowCounts(node)).toEqual(before);
      }),
      { numRuns: 400 },
    );
    // hundreds of HTTP exchanges: 60 s is too tight when the shared machine is loaded
  }, 180_000);

  it("refuses JSON that JavaScript parses but FHIR cannot hold: non-finite numbers, __proto__, lone surrogates", async () => {
    const { node, docSession } = edge;
    const before = await rowCounts(node);
    const obs = JSON.stringify({ ...template("Observation"), id: "raw-1" });
    const cases: Array<[string, RegExp]> = [
      [obs.replace('"value":72', '"value":1e400'), /valueQuantity\.value|non-finite/],
      [obs.replace('"status":"final"', '"status":"final","extra":-1e999'), /non-finite number/],
      [obs.replace('{"resourceType"', '{"__proto__":{"polluted":true},"resourceType"'), /not valid JSON/],
      [obs.replace(`"text":"${phi("note")}"`, `"text":"\\udc00${phi()}"`), /lone surrogate/],
    ];
    for (const [body, says] of cases) {
      expectOutcome(await ask("POST", "/fhir/Observation", { body, token: docSession.token }), 400, says);
      expectOutcome(
        await ask("PUT", "/fhir/Observation/raw-1", { body, token: docSession.token }),
        400,
        says,
      );
    }
    expect(await rowCounts(node)).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("stores nothing of a bundle whose bad entry is found only while storing, and keeps no link from it", async () => {
    const { node } = edge;
    const before = await rowCounts(node);
    const attacker = await signIn(node.url, mallory);
    const patientUrl = "urn:uuid:0f0f0f0f-0000-4000-8000-000000000002";
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          fullUrl: patientUrl,
          resource: {
            resourceType: "Patient",
            identifier: [{ system: PATIENT_ACCOUNT_SYSTEM, value: mallory.address }],
          },
          request: { method: "POST", url: "Patient" },
        },
        {
          resource: {
            ...template("Observation"),
            subject: { reference: patientUrl },
            note: [{ text: "\ud800" }],
          },
          request: { method: "POST", url: "Observation" },
        },
      ],
    };
    const res = await ask("POST", "/fhir", { body: bundle, token: attacker.token });
    expectOutcome(res, 400, /lone surrogate/);
    expect(await rowCounts(node)).toEqual(before);
    // the failed bundle linked nothing, not even in memory: the attacker's account has no Patient
    const mine = await ask("GET", "/fhir/Patient", { token: attacker.token });
    expect(mine.status).toBe(200);
    expect((JSON.parse(mine.text) as { total?: number }).total).toBe(0);
    // records an organization already holds for an id cannot be claimed by creating its Patient:
    // a caller who does not choose ids cannot name that id at all
    const claim = {
      ...bundle,
      entry: [
        {
          resource: { ...bundle.entry[0]!.resource, id: "orphan-1" },
          request: { method: "PUT", url: "Patient/orphan-1" },
        },
      ],
    };
    expectOutcome(await ask("POST", "/fhir", { body: claim, token: attacker.token }), 404, /no Patient/);
    expect(await rowCounts(node)).toEqual(before);
    // hidden from the attacker: answered as a missing one
    expectOutcome(
      await ask("GET", "/fhir/Observation/orphan-obs", { token: attacker.token }),
      404,
      /no Observation with this id/,
    );
  });

  it("refuses to re-link a patient's record to another account named in a forged identifier", async () => {
    const { node, patientSession } = edge;
    const attacker = await signIn(node.url, mallory);
    const forged = {
      resourceType: "Patient",
      id: "pat-1",
      identifier: [{ system: PATIENT_ACCOUNT_SYSTEM, value: mallory.address }],
    };
    const before = await rowCounts(node);
    const res = await ask("PUT", "/fhir/Patient/pat-1", { body: forged, token: attacker.token });
    // the Patient is not the attacker's to see, let alone re-link: answered as a missing one
    expectOutcome(res, 404, /no Patient with this id/);
    expect(await rowCounts(node)).toEqual(before);
    expect((await attacker.get("/fhir/Observation/observation-seed")).status).toBe(404);
    expect((await patientSession.get("/fhir/Observation/observation-seed")).status).toBe(200);
  });

  it("answers an unknown resource type on every FHIR route with a 4xx OperationOutcome", async () => {
    const { docSession } = edge;
    const token = docSession.token;
    const says = /unknown or unsupported resource type|must be a FHIR resource type/;
    for (const type of ["Foo", "Observations", "observation", "Bundle", "OperationOutcome"]) {
      expectOutcome(await ask("GET", `/fhir/${type}`, { token }), 400, says);
      expectOutcome(await ask("GET", `/fhir/${type}/x1`, { token }), 400, says);
      expectOutcome(await ask("GET", `/fhir/${type}/x1/_history`, { token }), 400, says);
      expectOutcome(await ask("GET", `/fhir/${type}/x1/_history/1`, { token }), 400, says);
      expectOutcome(await ask("POST", `/fhir/${type}`, { body: { resourceType: type }, token }), 400, says);
      expectOutcome(
        await ask("PUT", `/fhir/${type}/x1`, { body: { resourceType: type, id: "x1" }, token }),
        400,
        says,
      );
    }
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: [{ resource: { resourceType: "Foo" }, request: { method: "POST", url: "Foo" } }],
    };
    expectOutcome(
      await ask("POST", "/fhir", { body: bundle, token }),
      400,
      /entry\[0\]\.resource\.resourceType: is not a supported/,
    );
    expectOutcome(
      await ask("POST", "/fhir/Observation", {
        body: { ...template("Observation"), resourceType: "Foo" },
        token,
      }),
      400,
      /body must be a Observation resource/,
    );
  });

  it("never logs a value from the input", async () => {
    await expectNoInputLogged(edge, "/fhir/Observation");
  });
});
