import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { describe, expect, it } from "vitest";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import { CdsClientRegistry } from "../../src/guidance/cdsClients.js";
import { careNode, until } from "../support/careNode.js";
import { signIn } from "../support/session.js";
import { engines } from "../support/stores.js";

const schemas = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "fixtures", "cds-hooks", "schemas.json"), "utf8"),
) as { definitions: Record<string, object> };
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema({ $id: "cds", definitions: schemas.definitions });
const valid = (shape: string, value: unknown): string[] => {
  const check = ajv.getSchema(`cds#/definitions/${shape}`)!;
  return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};

const RX = "http://www.nlm.nih.gov/research/umls/rxnorm";
const ISS = "https://ehr.example.test";

interface Card {
  uuid: string;
  summary: string;
  detail: string;
  indicator: string;
  suggestions?: { uuid: string; actions: { type: string; resourceId: string }[] }[];
}

/**
 * CDS Hooks as an EHR calls it, and as attackers would: a GP granted labs and medications (not
 * mental health, not allergies) gets cards from those only — no interaction card naming the
 * hidden antidepressant, no allergy card — until the patient grants more; the clinician's reads are
 * audited in the patient's log; a call without a registered client's valid, fresh, unreplayed JWT
 * for that endpoint is refused; request and response match the specification's JSON shapes.
 */
describe.each(engines)("CDS Hooks under consent (%s)", (engine) => {
  const care = careNode(engine);
  let key: CryptoKey;
  let otherKey: CryptoKey;
  const medication = (id: string, name: string, extra: object = {}) => ({
    resourceType: "MedicationRequest",
    id,
    status: "active",
    intent: "order",
    subject: { reference: `Patient/${care.patientId}` },
    medicationCodeableConcept: {
      coding: [{ system: RX, code: id.replace(/\D/g, "") || "1", display: name }],
    },
    authoredOn: "2026-01-10",
    ...extra,
  });

  const jwt = async (
    path: string,
    claims: Record<string, unknown> = {},
    options: { alg?: string; signer?: CryptoKey | Uint8Array; kid?: string } = {},
  ) =>
    new SignJWT({
      jti: crypto.randomUUID(),
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 120,
      ...claims,
    })
      .setProtectedHeader({ alg: options.alg ?? "ES384", kid: options.kid ?? "ehr-1", typ: "JWT" })
      .setIssuer(ISS)
      .setAudience(`${care.node.url}${path}`)
      .sign(options.signer ?? key);

  const call = async (service: string, body: object, token?: string) => {
    const path = `/cds-services/${service}`;
    return fetch(`${care.node.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token ?? (await jwt(path))}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  };
  const hook = (hook: string, accessToken: string | undefined, context: object = {}, prefetch?: object) => ({
    hook,
    hookInstance: crypto.randomUUID(),
    fhirServer: `${care.node.url}/fhir`,
    ...(accessToken
      ? {
          fhirAuthorization: {
            access_token: accessToken,
            token_type: "Bearer",
            expires_in: 300,
            scope: "user/*.rs",
            subject: "carechain-cds",
          },
        }
      : {}),
    context: { userId: "Practitioner/gp", patientId: care.patientId, ...context },
    ...(prefetch ? { prefetch } : {}),
  });
  const drafts = (...orders: object[]) => ({
    draftOrders: {
      resourceType: "Bundle",
      type: "collection",
      entry: orders.map((resource) => ({ resource })),
    },
  });
  const cardsOf = async (res: Response) => {
    expect(res.status).toBe(200);
    const body = (await res.json()) as { cards: Card[] };
    expect(valid("response", body)).toEqual([]);
    return body.cards;
  };

  it("is set up: the hospital records a patient, labs, medications (one of them mental health) and an allergy", async () => {
    const pair = await generateKeyPair("ES384");
    key = pair.privateKey;
    otherKey = (await generateKeyPair("ES384")).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "ehr-1", alg: "ES384", use: "sig" };
    const registry = new CdsClientRegistry(care.node.context.store.db, care.node.context.store.dialect);
    await registry.add(ISS, "Test EHR", { keys: [jwk] });
    const writes = [
      {
        resourceType: "Patient",
        id: care.patientId,
        identifier: [{ system: "https://carechain.dev/fhir/sid/account", value: care.patient.address }],
        birthDate: "1960-05-01",
        gender: "female",
      },
      {
        resourceType: "Observation",
        id: "hba1c-1",
        status: "final",
        category: [
          {
            coding: [
              { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
            ],
          },
        ],
        code: { coding: [{ system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c" }] },
        subject: { reference: `Patient/${care.patientId}` },
        effectiveDateTime: "2026-02-01T09:00:00Z",
        valueQuantity: { value: 6.9, unit: "%" },
      },
      medication("rx-36567", "Simvastatin 20 MG Oral Tablet"),
      medication("rx-312940", "Sertraline 50 MG Oral Tablet", { meta: { security: [{ code: "PSY" }] } }),
      {
        resourceType: "AllergyIntolerance",
        id: "allergy-1",
        clinicalStatus: { coding: [{ code: "active" }] },
        criticality: "high",
        code: {
          coding: [{ system: "http://snomed.info/sct", code: "91936005", display: "Allergy to penicillin" }],
        },
        patient: { reference: `Patient/${care.patientId}` },
      },
    ];
    for (const w of writes) {
      const res = await care.doc.send("PUT", `/fhir/${w.resourceType}/${w.id}`, w);
      expect([200, 201], w.id).toContain(res.status);
    }
  });

  it("serves discovery in the specification's shape", async () => {
    const res = await fetch(`${care.node.url}/cds-services`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { services: { hook: string }[] };
    expect(valid("discovery", body)).toEqual([]);
    expect(body.services.map((s) => s.hook).sort()).toEqual(["order-select", "order-sign", "patient-view"]);
  });

  it("patient-view as the GP: cards from labs and medications only, and the reads are in the patient's log", async () => {
    const request = hook("patient-view", care.gpSession.token);
    expect(valid("request", request)).toEqual([]);
    const cards = await cardsOf(await call("carechain-patient-view", request));
    const text = JSON.stringify(cards);
    expect(cards.some((c) => c.summary.startsWith("HbA1c 6.9 %"))).toBe(true);
    expect(text).not.toMatch(/sertraline|penicillin|allerg/i);
    // the GP read the record through the service: the patient sees it
    const logged = await until(async () => {
      const log = (await (await care.me.get("/audit/me?limit=1000")).json()) as {
        items: Array<{ entry: { actor: { account: string }; decision: string } }>;
      };
      return log.items.some(
        (i) => i.entry.actor.account === care.gp.address && i.entry.decision === "permit",
      );
    });
    expect(logged).toBe(true);
  });

  it("order-select: an interaction with a visible medication is a card with a suggestion to drop the draft", async () => {
    const draft = medication("draft-clarithro", "Clarithromycin 500 MG Oral Tablet", { status: "draft" });
    const request = hook("order-select", care.gpSession.token, {
      selections: ["MedicationRequest/draft-clarithro"],
      ...drafts(draft),
    });
    const cards = await cardsOf(await call("carechain-order-select", request));
    expect(cards).toHaveLength(1);
    expect(cards[0]!.indicator).toBe("critical");
    expect(cards[0]!.summary).toMatch(/Clarithromycin .* Simvastatin|Simvastatin .* Clarithromycin/);
    expect(cards[0]!.suggestions?.[0]?.actions).toEqual([
      {
        type: "delete",
        description: "Remove MedicationRequest/draft-clarithro",
        resourceId: "MedicationRequest/draft-clarithro",
      },
    ]);
    // feedback on it, in the specification's shape
    const feedback = {
      feedback: [
        {
          card: cards[0]!.uuid,
          outcome: "accepted",
          acceptedSuggestions: [{ id: cards[0]!.suggestions![0]!.uuid }],
          outcomeTimestamp: new Date().toISOString(),
        },
      ],
    };
    expect(valid("feedback", feedback)).toEqual([]);
    const path = "/cds-services/carechain-order-select/feedback";
    const sent = await fetch(`${care.node.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${await jwt(path)}`, "content-type": "application/json" },
      body: JSON.stringify(feedback),
    });
    expect(sent.status).toBe(200);
    const stored = await care.node.context.store.db.selectFrom("cds_feedback").selectAll().execute();
    expect(stored.map((f) => [f.card, f.outcome])).toEqual([[cards[0]!.uuid, "accepted"]]);
  });

  it("order-select: no card reveals the hidden antidepressant or the unshared allergy, until the patient shares them", async () => {
    const maoi = medication("draft-phenelzine", "Phenelzine 15 MG Oral Tablet", { status: "draft" });
    const penicillin = medication("draft-amox", "Amoxicillin 500 MG Oral Capsule", { status: "draft" });
    const request = () =>
      hook("order-select", care.gpSession.token, {
        selections: ["MedicationRequest/draft-phenelzine", "MedicationRequest/draft-amox"],
        ...drafts(maoi, penicillin),
      });
    expect(await cardsOf(await call("carechain-order-select", request()))).toEqual([]);

    // the patient shares mental health and allergies with the GP: the same call now warns
    const message = buildGrantMessage({
      patient: care.patient.address,
      grantee: { kind: "practitioner", account: care.gp.address },
      categories: ["mental-health", "allergies"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
    const granted = await fetch(`${care.node.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        signedGrantToJson(message, await signGrant(care.patient, await care.domain(), message)),
      ),
    });
    expect(granted.status).toBe(201);
    const cards = await cardsOf(await call("carechain-order-select", request()));
    expect(cards.map((c) => c.summary).sort()).toEqual([
      expect.stringMatching(/^Allergy conflict: Amoxicillin 500 MG Oral Capsule/),
      expect.stringMatching(/^Interaction: (Phenelzine|Sertraline)/),
    ]);
  });

  it("a clinician of another organization without any grant learns nothing through the service", async () => {
    const stranger = await signIn(care.node.url, care.stranger);
    const res = await call("carechain-patient-view", hook("patient-view", stranger.token));
    const text = await res.text();
    expect(text).not.toMatch(/HbA1c|Simvastatin|Sertraline|penicillin/i);
    // the same answer as a patient id that does not exist
    const missing = await call("carechain-patient-view", {
      ...hook("patient-view", stranger.token),
      context: { patientId: "no-such-patient" },
    });
    expect(res.status).toBe(missing.status);
    expect(text.replace(care.patientId, "ID")).toBe((await missing.text()).replace("no-such-patient", "ID"));
  });

  it("uses the prefetch when no token is sent (nothing of this node is read), and answers 412 with neither", async () => {
    const prefetch = {
      patient: { resourceType: "Patient", id: "x", birthDate: "1950-01-01", gender: "male" },
      medications: {
        resourceType: "Bundle",
        type: "searchset",
        entry: [{ resource: medication("rx-1", "Lovastatin 20 MG Oral Tablet") }],
      },
    };
    const draft = medication("draft-itra", "Itraconazole 100 MG Oral Capsule", { status: "draft" });
    const cards = await cardsOf(
      await call(
        "carechain-order-select",
        hook(
          "order-select",
          undefined,
          { selections: ["MedicationRequest/draft-itra"], ...drafts(draft) },
          prefetch,
        ),
      ),
    );
    expect(cards.map((c) => c.summary)).toEqual([expect.stringMatching(/Lovastatin|Itraconazole/)]);
    const none = await call("carechain-patient-view", hook("patient-view", undefined));
    expect(none.status).toBe(412);
  });

  it("refuses calls without a registered client's valid JWT for this endpoint", async () => {
    const path = "/cds-services/carechain-patient-view";
    const body = hook("patient-view", care.gpSession.token);
    const refused = async (token: string | undefined, why: RegExp) => {
      const res = await fetch(`${care.node.url}${path}`, {
        method: "POST",
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
      expect(res.status, String(why)).toBe(401);
      const text = await res.text();
      expect(text).toMatch(why);
      expect(text).not.toContain("HbA1c");
    };
    await refused(undefined, /Authorization: Bearer <JWT>/);
    await refused("not-a-jwt", /not a JWT/);
    // another endpoint's audience
    const wrongAud = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES384", kid: "ehr-1", typ: "JWT" })
      .setIssuer(ISS)
      .setAudience(`${care.node.url}/cds-services/carechain-order-sign`)
      .setIssuedAt()
      .setExpirationTime("2m")
      .sign(key);
    await refused(wrongAud, /claim aud/);
    // an unknown issuer, a key the client never registered, an expired token, a long-lived one
    const unknownIss = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES384", kid: "ehr-1", typ: "JWT" })
      .setIssuer("https://evil.example.test")
      .setAudience(`${care.node.url}${path}`)
      .setIssuedAt()
      .setExpirationTime("2m")
      .sign(key);
    await refused(unknownIss, /issuer is not trusted/);
    await refused(await jwt(path, {}, { signer: otherKey }), /bad signature/);
    const now = Math.floor(Date.now() / 1000);
    await refused(await jwt(path, { exp: now - 120, iat: now - 200 }), /expired/);
    await refused(await jwt(path, { exp: now + 3600, iat: now }), /at most 300 s/);
    // a shared secret (HS256) and an unsigned token are never accepted
    await refused(
      await jwt(path, {}, { alg: "HS256", signer: new TextEncoder().encode("x".repeat(32)) }),
      /refused/,
    );
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT", kid: "ehr-1" })).toString(
      "base64url",
    );
    const payload = Buffer.from(
      JSON.stringify({ iss: ISS, aud: `${care.node.url}${path}`, iat: now, exp: now + 60, jti: "x" }),
    ).toString("base64url");
    await refused(`${header}.${payload}.`, /refused/);
    // a replayed JWT
    const once = await jwt(path);
    expect((await call("carechain-patient-view", body, once)).status).toBe(200);
    await refused(once, /jti was already used/);
  });

  it("answers bad requests with 400 naming what is wrong", async () => {
    const res = await call("carechain-patient-view", { hook: "patient-view", context: {} });
    expect(res.status).toBe(400);
    const wrongHook = await call("carechain-patient-view", hook("order-select", care.gpSession.token));
    expect(wrongHook.status).toBe(400);
    expect(await wrongHook.text()).toContain("patient-view");
    const noDrafts = await call("carechain-order-select", hook("order-select", care.gpSession.token));
    expect(noDrafts.status).toBe(400);
    expect(await noDrafts.text()).toContain("context.draftOrders");
  });

  it("$summary as the GP: an IPS document of what the GP may see, nothing else", async () => {
    const res = await care.gpSession.get(`/fhir/Patient/${care.patientId}/$summary`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      type: string;
      entry: {
        resource: {
          resourceType: string;
          section?: { code: { coding: { code: string }[] }; entry?: unknown[] }[];
        };
      }[];
    };
    expect(doc.type).toBe("document");
    const sections = new Map(doc.entry[0]!.resource.section!.map((s) => [s.code.coding[0]!.code, s]));
    expect(sections.get("30954-2")?.entry).toHaveLength(1);
    expect(sections.get("10160-0")?.entry?.length).toBeGreaterThan(0);
  });
});
