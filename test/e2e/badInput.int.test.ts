import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Hex } from "viem";
import { issueSessionToken } from "../../src/access/sessionToken.js";
import { ParticipantAdmin } from "../../src/chain/participantAdmin.js";
import { loadConfig } from "../../src/config/config.js";
import { CONSENT_TYPES } from "../../src/model/consentTypes.js";
import {
  buildGrantMessage,
  signGrant,
  signedGrantToJson,
  type ConsentDomain,
  type GrantMessage,
} from "../../src/consent/signConsent.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { PATIENT_ACCOUNT_SYSTEM } from "../../src/records/searchBundle.js";
import { signIn, type Session } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

/** Every generated value carries this marker; no response body and no log line may ever hold it. */
const MARK = "PHIMARK";
const phi = (s = ""): string => `~${MARK}~${s}`;
const marker = fc.string({ maxLength: 10 }).map((s) => phi(s));

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** One HTTP exchange over node:http, so a server that answers before reading the whole body is fine. */
function exchange(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer | (() => AsyncIterable<Buffer>),
): Promise<Answer> {
  const sized =
    body === undefined || typeof body === "function"
      ? headers
      : { ...headers, "content-length": String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method, headers: sized, timeout: 15_000 }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"] ?? ""),
          text: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    // the server may answer (413) and close before it has read everything we send
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (!answered && error.code !== "EPIPE") reject(error);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer to ${method} ${url}`)));
    if (typeof body === "function") {
      void (async () => {
        for await (const chunk of body())
          if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
        req.end();
      })().catch(() => req.destroy());
    } else req.end(body);
  });
}

/** Asserts a FHIR OperationOutcome error answer that says what is wrong and leaks no marker. */
function expectOutcome(a: Answer, status: number | [number, number], diagnostics: RegExp): void {
  if (typeof status === "number") expect(a.status, a.text).toBe(status);
  else {
    expect(a.status, a.text).toBeGreaterThanOrEqual(status[0]);
    expect(a.status, a.text).toBeLessThanOrEqual(status[1]);
  }
  expect(a.type).toMatch(/^application\/fhir\+json/);
  const body = JSON.parse(a.text) as { resourceType: string; issue: Array<{ diagnostics?: string }> };
  expect(body.resourceType).toBe("OperationOutcome");
  expect(body.issue[0]?.diagnostics).toMatch(diagnostics);
  expect(a.text).not.toContain(MARK);
}

const TYPES = [
  "Patient",
  "Observation",
  "Condition",
  "Encounter",
  "MedicationRequest",
  "Immunization",
  "AllergyIntolerance",
] as const;
type Type = (typeof TYPES)[number];
type Json = Record<string, unknown>;

const SUBJECT = { reference: "Patient/pat-1" };
/** A valid resource of each type, with markers in its free text. */
function template(type: Type): Json {
  const base: Record<Type, Json> = {
    Patient: {
      name: [{ family: phi("family"), given: [phi("given")] }],
      gender: "female",
      birthDate: "1970-01-01",
      telecom: [{ system: "phone", value: phi("tel") }],
    },
    Observation: {
      status: "final",
      code: { coding: [{ system: "http://loinc.org", code: "8867-4", display: phi("d") }], text: phi() },
      subject: SUBJECT,
      effectiveDateTime: "2020-01-01T10:00:00Z",
      valueQuantity: { value: 72, unit: "/min" },
      note: [{ text: phi("note") }],
    },
    Condition: {
      code: { text: phi() },
      subject: SUBJECT,
      onsetDateTime: "2019-05-01",
      recordedDate: "2019-05-02",
    },
    Encounter: {
      status: "finished",
      class: { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "AMB" },
      subject: SUBJECT,
      period: { start: "2020-01-01T09:00:00Z", end: "2020-01-01T10:00:00Z" },
      reasonCode: [{ text: phi() }],
    },
    MedicationRequest: {
      status: "active",
      intent: "order",
      subject: SUBJECT,
      medicationCodeableConcept: { text: phi() },
      authoredOn: "2020-02-02",
    },
    Immunization: {
      status: "completed",
      vaccineCode: { text: phi() },
      patient: SUBJECT,
      occurrenceDateTime: "2021-01-01",
    },
    AllergyIntolerance: { patient: SUBJECT, code: { text: phi() }, recordedDate: "2018-01-01" },
  };
  return { resourceType: type, ...structuredClone(base[type]) };
}

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

/** Row counts of the record tables, to prove a rejected request wrote nothing. */
async function rowCounts(node: RunningNode): Promise<Record<string, number>> {
  const { db } = node.context.store;
  const out: Record<string, number> = {};
  for (const table of ["resources", "resource_versions", "search_tokens", "patient_links"] as const) {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

/**
 * The HTTP edge under bad input, on a real node (anvil + SQLite or PostgreSQL): every refusal is
 * a 4xx FHIR OperationOutcome naming the problem, never a 500, never an echo of an input value
 * (nor a log line holding one), and never a partial write.
 */
describe.each(engines)("bad input at the HTTP edge (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-bad-"));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  const docKey = generatePrivateKey();
  const doc = privateKeyToAccount(docKey);
  const patient = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  let docSession: Session;
  let patientSession: Session;
  let domain: ConsentDomain;

  const ask = (
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined;
    if (options.body !== undefined) {
      body =
        typeof options.body === "string" || Buffer.isBuffer(options.body)
          ? options.body
          : JSON.stringify(options.body);
      headers["content-type"] ??= "application/fhir+json";
    }
    return exchange(`${node.url}${path}`, method, headers, body);
  };

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 500 }),
      { logger: createLogger("debug", sink) },
    );
    const { outbox, organizationId, indexer } = node.context;
    await outbox.waitFor(`register-organization:${organizationId}`, 15_000);
    const intent = await new ParticipantAdmin(outbox).addPractitioner(
      organizationId,
      doc.address,
      "physician",
    );
    const row = await outbox.waitFor(intent.id, 15_000);
    await indexer.waitForBlock(BigInt(row.block_number ?? 0), 10_000);
    docSession = await signIn(node.url, doc);
    patientSession = await signIn(node.url, patient);
    domain = (await (await fetch(`${node.url}/consents/domain`)).json()) as ConsentDomain;

    // one valid resource of every type: proves the templates valid, and gives PUT something to update
    const seeded = await docSession.send(
      "POST",
      "/fhir",
      {
        resourceType: "Bundle",
        type: "transaction",
        entry: TYPES.map((type) => {
          const id = type === "Patient" ? "pat-1" : `${type.toLowerCase()}-seed`;
          return { resource: { ...template(type), id }, request: { method: "PUT", url: `${type}/${id}` } };
        }),
      },
      undefined,
      { "x-patient-account": patient.address },
    );
    expect(seeded.status, await seeded.clone().text()).toBe(200);
    const orphan = await docSession.send("POST", "/fhir/Observation", {
      ...template("Observation"),
      id: "orphan-obs",
      subject: { reference: "Patient/orphan-1" },
    });
    expect(orphan.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("refuses malformed FHIR on create, update and bundle import with a 400 naming the problem, writing nothing", async () => {
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
  });

  it("refuses JSON that JavaScript parses but FHIR cannot hold: non-finite numbers, __proto__, lone surrogates", async () => {
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
    const before = await rowCounts(node);
    const attacker = await signIn(node.url, mallory);
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          resource: {
            resourceType: "Patient",
            id: "orphan-2",
            identifier: [{ system: PATIENT_ACCOUNT_SYSTEM, value: mallory.address }],
          },
          request: { method: "PUT", url: "Patient/orphan-2" },
        },
        {
          resource: {
            ...template("Observation"),
            subject: { reference: "Patient/orphan-2" },
            note: [{ text: "\ud800" }],
          },
          request: { method: "POST", url: "Observation" },
        },
      ],
    };
    const res = await ask("POST", "/fhir", { body: bundle, token: attacker.token });
    expectOutcome(res, 400, /lone surrogate/);
    expect(await rowCounts(node)).toEqual(before);
    // the failed bundle stored nothing and linked nothing, not even in memory
    expectOutcome(await ask("GET", "/fhir/Patient/orphan-2", { token: attacker.token }), 404, /not known/);
    // records an organization already holds for an id cannot be claimed by creating its Patient
    const claim = {
      ...bundle,
      entry: [
        {
          ...bundle.entry[0]!,
          resource: { ...bundle.entry[0]!.resource, id: "orphan-1" },
          request: { method: "PUT", url: "Patient/orphan-1" },
        },
      ],
    };
    expectOutcome(
      await ask("POST", "/fhir", { body: claim, token: attacker.token }),
      403,
      /records already exist/,
    );
    expect(await rowCounts(node)).toEqual(before);
    expectOutcome(
      await ask("GET", "/fhir/Observation/orphan-obs", { token: attacker.token }),
      403,
      /consent/,
    );
  });

  it("refuses to re-link a patient's record to another account named in a forged identifier", async () => {
    const attacker = await signIn(node.url, mallory);
    const forged = {
      resourceType: "Patient",
      id: "pat-1",
      identifier: [{ system: PATIENT_ACCOUNT_SYSTEM, value: mallory.address }],
    };
    const before = await rowCounts(node);
    const res = await ask("PUT", "/fhir/Patient/pat-1", { body: forged, token: attacker.token });
    expectOutcome(res, [403, 409], /consent|linked/);
    expect(await rowCounts(node)).toEqual(before);
    expect((await attacker.get("/fhir/Observation/observation-seed")).status).toBe(403);
    expect((await patientSession.get("/fhir/Observation/observation-seed")).status).toBe(200);
  });

  it("answers an unknown resource type on every FHIR route with a 4xx OperationOutcome", async () => {
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

  it("refuses a SIWE sign-in with another key's signature, a replayed challenge or garbage", async () => {
    const challenge = async () =>
      (await (
        await fetch(`${node.url}/auth/challenge`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ address: patient.address }),
        })
      ).json()) as { message: string };
    const verify = (body: unknown) =>
      ask("POST", "/auth/verify", { body, headers: { "content-type": "application/json" } });

    const c1 = await challenge();
    expectOutcome(
      await verify({ message: c1.message, signature: await mallory.signMessage({ message: c1.message }) }),
      401,
      /SIWE signature does not match the address/,
    );
    const c2 = await challenge();
    const good = { message: c2.message, signature: await patient.signMessage({ message: c2.message }) };
    expect((await verify(good)).status).toBe(200);
    expectOutcome(await verify(good), 401, /SIWE nonce unknown or already used/);

    const c3 = await challenge();
    const otherDomain = c3.message.replace(/^[^ ]+/, "evil.example");
    expectOutcome(
      await verify({ message: otherDomain, signature: await patient.signMessage({ message: otherDomain }) }),
      401,
      /SIWE domain mismatch/,
    );
    const c4 = await challenge();
    expectOutcome(
      await verify({ message: c4.message, signature: "0x1234" }),
      401,
      /SIWE signature malformed/,
    );
    expectOutcome(
      await verify({ message: c4.message, signature: phi() }),
      400,
      /signature: must be a 0x-prefixed hex/,
    );
    expectOutcome(await verify({ message: phi(), signature: "0xabcd" }), 401, /SIWE message malformed/);
    expectOutcome(await verify({ message: "x".repeat(5000), signature: "0xab" }), 400, /message/);
    expectOutcome(
      await verify({ message: c4.message, signature: "0xab", [phi()]: 1 }),
      400,
      /unrecognized|unknown/i,
    );
    expectOutcome(
      await ask("POST", "/auth/challenge", {
        body: { address: phi() },
        headers: { "content-type": "application/json" },
      }),
      400,
      /address: must be a 0x-prefixed 20-byte address/,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { message: fc.oneof(marker, fc.anything()), signature: fc.oneof(marker, fc.anything()) },
          { requiredKeys: [] },
        ),
        async (body) => expectOutcome(await verify(body), [400, 401], /SIWE|body|message|signature/),
      ),
      { numRuns: 100 },
    );
  });

  const grant = (nonce: bigint, window: { notBefore?: number; notAfter?: number } = {}): GrantMessage =>
    buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: mallory.address },
      categories: ["labs"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: window.notBefore ?? Math.floor(Date.now() / 1000) - 60,
      notAfter: window.notAfter ?? new Date("2031-01-01T00:00:00Z"),
      nonce,
    });
  const submit = (body: unknown, wait = false) =>
    ask("POST", `/consents${wait ? "?wait=true" : ""}`, {
      body,
      headers: { "content-type": "application/json" },
    });

  it("refuses consent grants signed by someone else, replayed, out of order, expired or malformed", async () => {
    const nonce = BigInt(
      ((await (await fetch(`${node.url}/consents/nonce/${patient.address}`)).json()) as { nonce: string })
        .nonce,
    );
    const forgedMessage = grant(nonce);
    const forged = await mallory.signTypedData({
      domain,
      types: CONSENT_TYPES,
      primaryType: "Grant",
      message: forgedMessage,
    });
    expectOutcome(
      await submit(signedGrantToJson(forgedMessage, forged)),
      401,
      /signature was not made by the patient's key/,
    );
    const wrongNonce = grant(nonce + 7n);
    expectOutcome(
      await submit(signedGrantToJson(wrongNonce, await signGrant(patient, domain, wrongNonce))),
      409,
      /wrong consent nonce/,
    );
    const ended = grant(nonce, { notBefore: 1_000_000, notAfter: 2_000_000 });
    expectOutcome(
      await submit(signedGrantToJson(ended, await signGrant(patient, domain, ended))),
      400,
      /validity window has already ended/,
    );
    const ok = grant(nonce);
    const signed = signedGrantToJson(ok, await signGrant(patient, domain, ok));
    expect((await submit(signed, true)).status).toBe(201);
    expectOutcome(await submit(signed), 409, /already on the ledger \(replay\)/);

    expectOutcome(await submit("{not json"), 400, /not valid JSON/);
    expectOutcome(
      await submit({ grant: { ...signed.grant, patient: phi() }, signature: signed.signature }),
      400,
      /invalid signed grant: grant\.patient/,
    );
    expectOutcome(
      await ask("POST", "/consents/revoke", {
        body: {
          revoke: { patient: patient.address, grantId: `0x${"1".repeat(64)}`, nonce: "0" },
          signature: "0xab",
        },
        headers: { "content-type": "application/json" },
      }),
      404,
      /no such grant/,
    );
    const field = fc.oneof(
      marker,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(marker),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          key: fc.constantFrom(...Object.keys(signed.grant), "signature"),
          value: field,
        }),
        async ({ key, value }) => {
          const body =
            key === "signature"
              ? { ...signed, signature: value }
              : { ...signed, grant: { ...signed.grant, [key]: value } };
          const res = await submit(body);
          // The generator may draw the very value the grant already holds (granteeKind 0, say):
          // that body is the accepted grant again, and must be refused as a replay.
          if (JSON.stringify(body) === JSON.stringify(signed))
            expectOutcome(res, 409, /already on the ledger \(replay\)/);
          else if (res.status === 401) expectOutcome(res, 401, /signature was not made by the patient's key/);
          else {
            // A field some rule ties to another may be refused under that one's name: a role
            // grant (granteeKind 2) without a role names `role`, a late notBefore names notAfter.
            const named =
              { granteeKind: "(granteeKind|role)", notBefore: "(notBefore|notAfter)" }[key] ?? key;
            expectOutcome(res, 400, new RegExp(`invalid signed grant: .*${named}`));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("answers expired, forged, tampered, alg=none and missing session tokens with 401", async () => {
    const nodeKey = node.context.key.privateKey as Hex;
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const [header, payload, signature] = docSession.token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const tokens: Array<[string | undefined, RegExp]> = [
      [undefined, /sign in first/],
      [
        issueSessionToken(
          nodeKey,
          { sub: patient.address, kind: "patient", ttlSeconds: 60 },
          new Date((now - 3600) * 1000),
        ),
        /expired/,
      ],
      [
        issueSessionToken(generatePrivateKey(), { sub: patient.address, kind: "patient" }),
        /signature invalid/,
      ],
      [`${header}.${b64({ ...claims, sub: mallory.address })}.${signature}`, /signature invalid/],
      [`${header}.${b64({ ...claims, exp: now + 86_400 * 365 })}.${signature}`, /signature invalid/],
      [`${b64({ alg: "none", typ: "JWT" })}.${payload}.`, /malformed/],
      [`${b64({ alg: "none", typ: "JWT" })}.${payload}.${signature}`, /signature invalid/],
      [`${b64({ alg: "HS256", typ: "JWT" })}.${payload}.${signature}`, /signature invalid/],
      [phi(), /malformed/],
      ["", /malformed|sign in first/],
    ];
    const routes: Array<[string, string]> = [
      ["GET", "/fhir/Observation"],
      ["GET", "/fhir/Observation/observation-seed"],
      ["POST", "/fhir/Observation"],
      ["POST", "/fhir"],
      ["GET", "/auth/me"],
      ["GET", "/audit/me"],
      ["GET", "/consents"],
    ];
    for (const [token, says] of tokens)
      for (const [method, path] of routes) {
        const headers: Record<string, string> =
          token === undefined ? {} : { authorization: `Bearer ${token}` };
        const body = method === "POST" ? template("Observation") : undefined;
        expectOutcome(await ask(method, path, { body, headers }), 401, says);
      }
    expectOutcome(
      await ask("GET", "/auth/me", { headers: { authorization: `Basic ${phi()}` } }),
      401,
      /sign in first/,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.base64String({ maxLength: 40 }).map((s) => s.replace(/[+/=]/g, "")),
          { minLength: 1, maxLength: 4 },
        ),
        async (parts) =>
          expectOutcome(
            await ask("GET", "/auth/me", { token: parts.join(".") }),
            401,
            /session token|sign in/,
          ),
      ),
      { numRuns: 60 },
    );
  });

  it("answers oversized, non-JSON, wrongly typed and empty bodies with 413, 400 or 415", async () => {
    const token = docSession.token;
    const auth = { authorization: `Bearer ${token}` };
    const over = (bytes: number) => Buffer.alloc(bytes, 0x20);
    const json = { ...auth, "content-type": "application/json" };
    expectOutcome(
      await ask("POST", "/fhir/Observation", { body: over(1024 * 1024 + 1), headers: json }),
      413,
      /too large/,
    );
    expectOutcome(
      await ask("POST", "/consents", { body: over(1024 * 1024 + 1), headers: json }),
      413,
      /too large/,
    );
    expectOutcome(
      await ask("PUT", "/fhir/Observation/x", {
        body: over(2 * 1024 * 1024),
        headers: { ...auth, "content-type": "text/plain" },
      }),
      413,
      /too large/,
    );
    // no Content-Length: the limit is enforced on the stream too
    const chunked = await exchange(`${node.url}/fhir/Observation`, "POST", json, async function* () {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024, 0x20);
    });
    expectOutcome(chunked, 413, /too large/);
    // a bundle may be up to 64 MiB, not more
    expectOutcome(
      await ask("POST", "/fhir", { body: over(64 * 1024 * 1024 + 1), headers: json }),
      413,
      /too large/,
    );
    const big = await ask("POST", "/fhir", {
      body: `${" ".repeat(2 * 1024 * 1024)}{"resourceType":"Bundle","type":"transaction","entry":[]}`,
      headers: json,
    });
    expect(big.status).toBe(200);

    const before = await rowCounts(node);
    for (const path of ["/fhir/Observation", "/fhir", "/consents", "/auth/verify"]) {
      expectOutcome(
        await ask("POST", path, { body: `{"resourceType": ${phi()}`, headers: json }),
        400,
        /not valid JSON/,
      );
      expectOutcome(await ask("POST", path, { body: "", headers: json }), 400, /empty|must be|body/);
      expectOutcome(
        await ask("POST", path, {
          body: `<x>${phi()}</x>`,
          headers: { ...auth, "content-type": "application/xml" },
        }),
        415,
        /unsupported content type/,
      );
      expectOutcome(
        await ask("POST", path, {
          body: phi(),
          headers: { ...auth, "content-type": "multipart/form-data; boundary=x" },
        }),
        415,
        /unsupported content type/,
      );
      expectOutcome(
        await ask("POST", path, { body: phi(), headers: { ...auth, "content-type": "text/plain" } }),
        400,
        /must be|invalid|body/,
      );
      expectOutcome(await ask("POST", path, { headers: auth }), 400, /must be|invalid|body|required/);
    }
    expectOutcome(await ask("PUT", "/fhir/Observation/x", { headers: auth }), 400, /must be a JSON object/);
    expect(await rowCounts(node)).toEqual(before);
  });

  it("answers bad search parameters with a 400 naming the parameter", async () => {
    const token = docSession.token;
    const search = (query: string) => ask("GET", `/fhir/Observation?${query}`, { token });
    const m = encodeURIComponent(phi());
    const cases: Array<[string, RegExp]> = [
      [`name=${m}`, /unknown search parameter 'name' for Observation/],
      [`${m}=1`, /unknown search parameter/],
      [`date=${m}`, /search parameter 'date'/],
      ["date=2020-13-45", /search parameter 'date'/],
      ["date=xx2020-01-01", /search parameter 'date'/],
      [`date=zz${m}`, /search parameter 'date'/],
      ["_lastUpdated=gt2020-02-30", /search parameter '_lastUpdated'/],
      ["_count=0", /'_count'/],
      ["_count=1001", /'_count'/],
      ["_count=-1", /'_count'/],
      [`_count=${m}`, /'_count'/],
      ["_count=1&_count=2", /'_count' must not be repeated/],
      ["_cursor=abc", /'_cursor' is not supported/],
      ["_offset=-5", /'_offset'/],
      [`code=a|b|${m}`, /search parameter 'code'/],
      ["code=|", /search parameter 'code'/],
      ["code=a%20b", /search parameter 'code'/],
      [`_id=${m}`, /search parameter '_id'/],
      ["_id=%00", /search parameter '_id'/],
      [`patient=${m}`, /search parameter 'patient'/],
      ["patient=Observation/1", /'patient' supports only Patient references/],
      [`code:foo=${m}`, /modifier ':foo' is not supported for search parameter 'code'/],
      [`code:${m}=1`, /modifier is not supported for search parameter 'code'/],
      ["code:missing=maybe", /search parameter 'code'/],
      [`_sort=${m}`, /unsupported _sort/],
      [`_include=${m}`, /'_include'/],
      [`_total=${m}`, /'_total'/],
      [`_cursor=${m}%20`, /'_cursor'/],
      ["status=", /search parameter 'status'/],
    ];
    for (const [query, says] of cases) expectOutcome(await search(query), 400, says);
    for (const view of ["AuditEvent", "Consent"]) {
      expectOutcome(
        await ask("GET", `/fhir/${view}?patient=${m}`, { token }),
        400,
        new RegExp(`${view} search needs patient`),
      );
    }
    for (const count of ["-5", "1.5", "1e400", m, "0", "1001"]) {
      const res = await ask("GET", `/fhir/AuditEvent?_count=${count}`, { token });
      expectOutcome(res, 400, /search parameter '_count'/);
    }
    expect((await ask("GET", "/fhir/AuditEvent?_count=5", { token })).status).toBe(200);
    const names = fc.constantFrom(
      "code",
      "date",
      "_id",
      "patient",
      "status",
      "category",
      "_count",
      "_sort",
      "_lastUpdated",
      "name",
      "code:text",
      "date:missing",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            names,
            fc.oneof(
              marker,
              fc.string(),
              fc.constantFrom("ge2020", "http://loinc.org|8867-4", "Patient/pat-1", "1"),
            ),
          ),
          { maxLength: 4 },
        ),
        async (pairs) => {
          const query = new URLSearchParams(pairs).toString();
          const res = await search(query);
          expect([200, 400], res.text).toContain(res.status);
          if (res.status === 400)
            expectOutcome(res, 400, /search parameter|_sort|must not be repeated|_offset or _cursor/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("never answers a random path, method, query or body with a 500", async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        "fhir",
        "auth",
        "consents",
        "audit",
        "patients",
        "me",
        "Patient",
        "Observation",
        "Foo",
        "_history",
        "$everything",
        "$erase",
        "entries",
        "proof",
        "nonce",
        "settings",
        "tree-heads",
        "consistency",
        "metadata",
        "health",
        "break-glass",
        "verify",
        "challenge",
        "revoke",
        "pat-1",
        "observation-seed",
        "shared-with-me",
        "notifications",
        "openapi.json",
        "..",
        ".",
      ),
      fc.constantFrom(
        "0",
        "-1",
        "1.5",
        "1e20",
        "99999999999999999999",
        "9007199254740993",
        "%00",
        "%20",
        "%2F",
        "%ZZ",
        `0x${"a".repeat(40)}`,
      ),
      fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/),
    );
    const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join("/")}`);
    const query = fc.option(
      fc
        .array(
          fc.tuple(
            fc.constantFrom(
              "from",
              "to",
              "limit",
              "afterIndex",
              "treeSize",
              "wait",
              "patient",
              "_count",
              "code",
              "x",
            ),
            fc.oneof(marker, fc.constantFrom("1", "-1", "0", "1e30", "true", "abc", "99999999999999999")),
          ),
          { maxLength: 3 },
        )
        .map((q) => `?${new URLSearchParams(q).toString()}`),
      { nil: "" },
    );
    const body = fc.option(
      fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        marker.map((m) => JSON.stringify({ resourceType: "Patient", name: m })),
      ),
      { nil: undefined },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
        path,
        query,
        body,
        fc.boolean(),
        async (method, p, q, b, signedIn) => {
          const sendsBody = b !== undefined && method !== "GET" && method !== "HEAD";
          const res = await ask(method, `${p}${q}`, {
            ...(sendsBody ? { body: b } : {}),
            ...(signedIn ? { token: patientSession.token } : {}),
          });
          expect(res.status, `${method} ${p}${q}: ${res.text}`).toBeLessThan(500);
          // stored resources hold markers too, so only refusals are checked for echoes
          if (res.status >= 400 && method !== "HEAD") {
            expect(res.type).toMatch(/^application\/fhir\+json/);
            expect(JSON.parse(res.text).resourceType).toBe("OperationOutcome");
            expect(res.text).not.toContain(MARK);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("never logs a value from the input", async () => {
    await node.services.audit.flush();
    const text = logs.join("");
    expect(text).toContain('"path":"/fhir/Observation"');
    expect(text).toContain('"status":400');
    const lines = text.split("\n");
    expect(lines.filter((l) => l.includes(MARK))).toEqual([]);
    expect(lines.filter((l) => l.includes('"level":50'))).toEqual([]);
  });
});
