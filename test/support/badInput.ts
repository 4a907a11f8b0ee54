/**
 * The bad-input suites' shared parts (test/e2e/badInput/): the marker every generated value
 * carries, one raw HTTP exchange, the OperationOutcome assertion, valid resource templates, and
 * one node per engine with a physician, a patient and an attacker signed in.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, expect } from "vitest";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { ParticipantAdmin } from "../../src/chain/participantAdmin.js";
import { loadConfig } from "../../src/config/config.js";
import type { ConsentDomain } from "../../src/consent/signConsent.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { signIn, type Session } from "./session.js";
import { freshDatabase, type FreshDatabase } from "./stores.js";

/** Every generated value carries this marker; no response body and no log line may ever hold it. */
export const MARK = "PHIMARK";
export const phi = (s = ""): string => `~${MARK}~${s}`;
export const marker = fc.string({ maxLength: 10 }).map((s) => phi(s));

export interface Answer {
  status: number;
  type: string;
  text: string;
}

/** One HTTP exchange over node:http, so a server that answers before reading the whole body is fine. */
export function exchange(
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
export function expectOutcome(a: Answer, status: number | [number, number], diagnostics: RegExp): void {
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

export const TYPES = [
  "Patient",
  "Observation",
  "Condition",
  "Encounter",
  "MedicationRequest",
  "Immunization",
  "AllergyIntolerance",
] as const;
export type Type = (typeof TYPES)[number];
export type Json = Record<string, unknown>;

const SUBJECT = { reference: "Patient/pat-1" };
/** A valid resource of each type, with markers in its free text. */
export function template(type: Type): Json {
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

/** Row counts of the record tables, to prove a rejected request wrote nothing. */
export async function rowCounts(node: RunningNode): Promise<Record<string, number>> {
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

/** A node under bad input, with the accounts and sessions the suites use; filled in `beforeAll`. */
export interface BadInputNode {
  readonly node: RunningNode;
  readonly docSession: Session;
  readonly patientSession: Session;
  readonly domain: ConsentDomain;
  readonly patient: PrivateKeyAccount;
  readonly mallory: PrivateKeyAccount;
  /** The node's log lines (level debug), to prove no input value is ever logged. */
  readonly logs: string[];
  ask(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<Answer>;
}

/**
 * Starts a real node (anvil + SQLite or PostgreSQL) for the enclosing `describe`, registers a
 * physician, signs in the physician and a patient, and seeds one valid resource of every type
 * (`pat-1`, `<type>-seed`) linked to the patient, plus `orphan-obs` of an unlinked Patient.
 */
export function badInputNode(engine: "sqlite" | "postgres"): BadInputNode {
  const dir = mkdtempSync(join(tmpdir(), "carechain-bad-"));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  let database: FreshDatabase | undefined;
  let node: RunningNode | undefined;
  const doc = privateKeyToAccount(generatePrivateKey());
  const edge = {
    patient: privateKeyToAccount(generatePrivateKey()),
    mallory: privateKeyToAccount(generatePrivateKey()),
    logs,
    ask: (
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
      return exchange(`${edge.node.url}${path}`, method, headers, body);
    },
  } as { -readonly [K in keyof BadInputNode]: BadInputNode[K] };

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 500 }),
      { logger: createLogger("debug", sink) },
    );
    edge.node = node;
    const { outbox, organizationId, indexer } = node.context;
    await outbox.waitFor(`register-organization:${organizationId}`, 15_000);
    const intent = await new ParticipantAdmin(outbox).addPractitioner(
      organizationId,
      doc.address,
      "physician",
    );
    const row = await outbox.waitFor(intent.id, 15_000);
    await indexer.waitForBlock(BigInt(row.block_number ?? 0), 10_000);
    edge.docSession = await signIn(node.url, doc);
    edge.patientSession = await signIn(node.url, edge.patient);
    edge.domain = (await (await fetch(`${node.url}/consents/domain`)).json()) as ConsentDomain;

    // one valid resource of every type: proves the templates valid, and gives PUT something to update
    const seeded = await edge.docSession.send(
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
      { "x-patient-account": edge.patient.address },
    );
    expect(seeded.status, await seeded.clone().text()).toBe(200);
    const orphan = await edge.docSession.send("POST", "/fhir/Observation", {
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

  return edge;
}

/**
 * Asserts that the node logged the refusals of `path` (so the sink works) and that no log line
 * holds an input value or is an error-level line.
 */
export async function expectNoInputLogged(edge: BadInputNode, path: string): Promise<void> {
  await edge.node.services.audit.flush();
  const text = edge.logs.join("");
  expect(text).toContain(`"path":"${path}"`);
  expect(text).toContain('"status":400');
  const lines = text.split("\n");
  expect(lines.filter((l) => l.includes(MARK))).toEqual([]);
  expect(lines.filter((l) => l.includes('"level":50'))).toEqual([]);
}
