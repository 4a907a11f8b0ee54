// Issue -> QR PNG -> decode the image -> verify, and each way a card must fail, with its reason.
// Cards made here verify with @pathcheck/shc-sdk (a verifier nobody here wrote), and a card made
// independently with jose + raw DEFLATE verifies with ours.
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { deflateRawSync } from "node:zlib";
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cardBundle, cardTypes } from "./cardBundle.js";
import { cardForms, cardQrPngs, cardQrSvgs, signCard } from "./cardSigner.js";
import { signEs256, type SigningKey } from "./issuerKeys.js";
import { publicJwk } from "./jwk.js";
import { nodeCrypto } from "./nodeCrypto.js";
import { parseRids, TrustStore } from "./trustStore.js";
import { verifyPassport } from "./verifyPassport.js";

const ISS = "https://issuer.example/shc";
const NOW = new Date("2026-12-01T12:00:00Z");
const NBF = NOW.getTime() / 1000 - 3600;

function freshSigningKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { jwk: publicJwk(publicKey.export({ format: "jwk" })), privateKey };
}

const patient = {
  resourceType: "Patient",
  id: "p-1",
  meta: { versionId: "3", lastUpdated: "2026-01-01T00:00:00Z" },
  name: [{ use: "official", family: "Example", given: ["Ada", "Q."] }],
  birthDate: "1980-02-03",
  gender: "female",
  address: [{ city: "Nowhere" }],
};
const immunization = (date: string, lot: string) => ({
  resourceType: "Immunization",
  id: `imm-${lot}`,
  status: "completed",
  vaccineCode: { coding: [{ system: "http://hl7.org/fhir/sid/cvx", code: "208", display: "Pfizer" }] },
  patient: { reference: "Patient/p-1" },
  occurrenceDateTime: date,
  performer: [{ actor: { reference: "Organization/o-1", display: "City Clinic" } }],
  lotNumber: lot,
  note: [{ text: "arm sore" }],
});

function makeCard(key: SigningKey, overrides: { nbf?: number; rid?: string } = {}): string {
  return signCard(
    {
      iss: ISS,
      nbf: overrides.nbf ?? NBF,
      types: cardTypes("immunization"),
      bundle: cardBundle(patient, [
        immunization("2021-04-01", "EW0182"),
        immunization("2021-04-22", "EW0199"),
      ]),
      rid: overrides.rid ?? "rid-0000001",
    },
    key,
  );
}

function trustOf(key: SigningKey, extra: (trust: TrustStore) => void = () => undefined): TrustStore {
  const trust = new TrustStore(nodeCrypto);
  trust.addShcKey({
    jwk: key.jwk,
    issuer: ISS,
    issuerName: "City Clinic",
    source: "ledger",
    revokedAt: null,
  });
  extra(trust);
  return trust;
}

describe("a card this node makes", () => {
  const key = freshSigningKey();

  it("round-trips through its QR PNG and verifies, naming the patient and each dose", async () => {
    const forms = cardForms(makeCard(key));
    expect(forms.qrPayloads).toHaveLength(1);
    const [png] = await cardQrPngs(forms);
    expect(png?.subarray(1, 4).toString()).toBe("PNG");
    const [report] = verifyPassport([png as Buffer], trustOf(key), NOW);
    expect(report?.valid).toBe(true);
    expect(report?.issuer).toEqual({ id: ISS, kid: key.jwk.kid, name: "City Clinic", trustedBy: "ledger" });
    expect(report?.patient).toEqual({ name: "Ada Q. Example", birthDate: "1980-02-03" });
    expect(report?.facts).toEqual([
      {
        kind: "immunization",
        source: "Immunization",
        system: "http://hl7.org/fhir/sid/cvx",
        code: "208",
        date: "2021-04-01",
        lotNumber: "EW0182",
        status: "completed",
      },
      {
        kind: "immunization",
        source: "Immunization",
        system: "http://hl7.org/fhir/sid/cvx",
        code: "208",
        date: "2021-04-22",
        lotNumber: "EW0199",
        status: "completed",
      },
    ]);
    const [svg] = await cardQrSvgs(forms);
    expect(svg).toMatch(/^<svg/);
  });

  it("holds a minimal bundle: resource:N, no ids, no meta, nothing beyond what a verifier needs", () => {
    const payload = JSON.stringify(cardBundle(patient, [immunization("2021-04-01", "L1")]));
    expect(payload).not.toMatch(/"id"|"meta"|Nowhere|gender|arm sore|Patient\/p-1|Organization\/o-1/);
    expect(payload).toContain('"reference":"resource:0"');
    expect(payload).toContain('"display":"City Clinic"');
  });

  it("a large card is split into balanced shc:/i/n chunks that verify together, from PNGs too", async () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      immunization(`2021-0${(i % 9) + 1}-01`, `LOT${i}${"X".repeat(20)}`),
    );
    const jws = signCard(
      { iss: ISS, nbf: NBF, types: cardTypes("immunization"), bundle: cardBundle(patient, many), rid: "r" },
      key,
    );
    const forms = cardForms(jws);
    expect(forms.qrPayloads.length).toBeGreaterThan(1);
    expect(forms.qrPayloads[0]).toMatch(new RegExp(`^shc:/1/${forms.qrPayloads.length}/\\d+$`));
    const pngs = await cardQrPngs(forms);
    const [report] = verifyPassport(pngs, trustOf(key), NOW);
    expect(report?.valid).toBe(true);
    expect(report?.facts).toHaveLength(40);
  });

  const reasonOf = (jws: string, trust: TrustStore, now = NOW) =>
    verifyPassport([jws], trust, now)[0]?.reason;

  it("fails for the right reason: tampered byte, wrong key, revoked key, revoked card, untrusted issuer, future nbf, payload not deflated", () => {
    const jws = makeCard(key);
    const [header, payload, signature] = jws.split(".") as [string, string, string];
    const flipped = `${header}.${payload.slice(0, 20)}${payload[20] === "A" ? "B" : "A"}${payload.slice(21)}.${signature}`;
    expect(reasonOf(flipped, trustOf(key))).toBe("signature_invalid");
    const sigFlipped = `${header}.${payload}.${signature[0] === "A" ? "B" : "A"}${signature.slice(1)}`;
    expect(reasonOf(sigFlipped, trustOf(key))).toBe("signature_invalid");

    const other = freshSigningKey();
    const wrongKey = makeCard({ jwk: key.jwk, privateKey: other.privateKey });
    expect(reasonOf(wrongKey, trustOf(key))).toBe("signature_invalid");

    const revokedKey = trustOf(key);
    revokedKey.shcKeys.set(key.jwk.kid, [
      { jwk: key.jwk, issuer: ISS, issuerName: null, source: "ledger", revokedAt: NBF + 10 },
    ]);
    expect(reasonOf(jws, revokedKey)).toBe("key_revoked");

    const withCrl = trustOf(key, (trust) =>
      trust.addCrl({ kid: key.jwk.kid, ctr: 1, rids: parseRids(["rid-0000001"]), source: "ledger" }),
    );
    expect(reasonOf(jws, withCrl)).toBe("revoked");

    expect(reasonOf(jws, trustOf(other))).toBe("untrusted_key");
    const elsewhere = new TrustStore(nodeCrypto);
    elsewhere.addShcKey({
      jwk: key.jwk,
      issuer: "https://other.example",
      issuerName: null,
      source: "ledger",
      revokedAt: null,
    });
    expect(reasonOf(jws, elsewhere)).toBe("untrusted_key");

    expect(reasonOf(makeCard(key, { nbf: NOW.getTime() / 1000 + 3600 }), trustOf(key))).toBe("not_yet_valid");

    const plain = Buffer.from(JSON.stringify({ iss: ISS, nbf: NBF, vc: {} })).toString("base64url");
    const headerPart = Buffer.from(JSON.stringify({ zip: "DEF", alg: "ES256", kid: key.jwk.kid })).toString(
      "base64url",
    );
    const notDeflated = `${headerPart}.${plain}.${signEs256(`${headerPart}.${plain}`, key.privateKey)}`;
    expect(reasonOf(notDeflated, trustOf(key))).toBe("decompression_failed");
  });
});

describe("independent implementations", () => {
  let server: Server;
  let iss: string;
  const key = freshSigningKey();

  beforeAll(async () => {
    // @pathcheck/shc-sdk resolves the issuer's keys from `${iss}/.well-known/jwks.json`.
    server = createServer((request, response) => {
      if (request.url === "/shc/.well-known/jwks.json") {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ keys: [key.jwk] }));
      } else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    iss = `http://127.0.0.1:${(server.address() as AddressInfo).port}/shc`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("@pathcheck/shc-sdk verifies a card this node signed, from its shc:/ QR payload", async () => {
    const require = createRequire(import.meta.url);
    const sdk = require("@pathcheck/shc-sdk") as {
      unpackAndVerify(
        uri: string,
      ): Promise<
        | { credential: { iss: string; vc: { credentialSubject: { fhirBundle: { entry: unknown[] } } } } }
        | undefined
      >;
    };
    const jws = signCard(
      {
        iss,
        nbf: NBF,
        types: cardTypes("immunization"),
        bundle: cardBundle(patient, [immunization("2021-04-01", "L1")]),
        rid: "r1",
      },
      key,
    );
    const [uri] = cardForms(jws).qrPayloads;
    const verified = await sdk.unpackAndVerify(uri ?? "");
    expect(verified?.credential.iss).toBe(iss);
    expect(verified?.credential.vc.credentialSubject.fhirBundle.entry).toHaveLength(2);
    // and it refuses the same card with a flipped signature byte, so the success above means something
    const [h, p, s] = jws.split(".") as [string, string, string];
    const broken = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
    expect(await sdk.unpackAndVerify(cardForms(broken).qrPayloads[0] ?? "")).toBeUndefined();
  });

  it("our verifier accepts a card built independently with jose and raw DEFLATE", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk, "sha256");
    const payload = {
      iss: "https://independent.example",
      nbf: Math.floor(NOW.getTime() / 1000) - 60,
      vc: {
        type: ["https://smarthealth.cards#health-card"],
        credentialSubject: {
          fhirVersion: "4.0.1",
          fhirBundle: {
            resourceType: "Bundle",
            type: "collection",
            entry: [
              {
                fullUrl: "resource:0",
                resource: {
                  resourceType: "Patient",
                  name: [{ family: "Jones", given: ["Sam"] }],
                  birthDate: "1970-07-07",
                },
              },
              {
                fullUrl: "resource:1",
                resource: {
                  resourceType: "Observation",
                  status: "final",
                  code: { coding: [{ system: "http://loinc.org", code: "94558-4" }] },
                  subject: { reference: "resource:0" },
                  effectiveDateTime: "2026-11-30",
                  valueCodeableConcept: { coding: [{ system: "http://snomed.info/sct", code: "260385009" }] },
                },
              },
            ],
          },
        },
      },
    };
    const jws = await new CompactSign(deflateRawSync(Buffer.from(JSON.stringify(payload))))
      .setProtectedHeader({ alg: "ES256", zip: "DEF", kid })
      .sign(privateKey);
    const trust = new TrustStore(nodeCrypto);
    expect(
      trust.addShcKey({
        jwk: { kid, kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" },
        issuer: null,
        issuerName: null,
        source: "test",
        revokedAt: null,
      }),
    ).toBe(true);
    const [report] = verifyPassport([jws], trust, NOW);
    expect(report?.valid).toBe(true);
    expect(report?.patient).toEqual({ name: "Sam Jones", birthDate: "1970-07-07" });
    expect(report?.facts[0]).toMatchObject({
      kind: "test",
      code: "94558-4",
      result: "http://snomed.info/sct|260385009",
    });
  });
});
