/**
 * The browser verifier runs the node's verifier code over other primitives (@noble/curves, pako
 * instead of OpenSSL and zlib): on every kind of card, valid or broken, both give the same report.
 * Runs the browser module on Node (the primitives are plain JavaScript).
 */
import { generateKeyPairSync } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { cardBundle, cardTypes } from "../../src/passport/cardBundle.js";
import { cardForms, signCard } from "../../src/passport/cardSigner.js";
import { signEs256, type SigningKey } from "../../src/passport/issuerKeys.js";
import { publicJwk } from "../../src/passport/jwk.js";
import { nodeCrypto } from "../../src/passport/nodeCrypto.js";
import type { PassportCrypto } from "../../src/passport/passportCrypto.js";
import { parseRids, TrustStore } from "../../src/passport/trustStore.js";
import { verifyCredentialTexts } from "../../src/passport/verifyCredentialTexts.js";
import { browserCrypto } from "../../web/src/passport/browserCrypto.js";

const ISS = "https://issuer.example";
const NOW = new Date("2026-12-01T12:00:00Z");
const NBF = NOW.getTime() / 1000 - 3600;

function signingKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { jwk: publicJwk(publicKey.export({ format: "jwk" })), privateKey };
}

const patient = {
  resourceType: "Patient",
  name: [{ family: "Example", given: ["Ada"] }],
  birthDate: "1980-02-03",
};
const dose = (date: string, lot: string) => ({
  resourceType: "Immunization",
  id: lot,
  status: "completed",
  vaccineCode: { coding: [{ system: "http://hl7.org/fhir/sid/cvx", code: "208" }] },
  occurrenceDateTime: date,
  lotNumber: lot,
});

function card(key: SigningKey, doses = 2, nbf = NBF, rid = "rid-1"): string {
  const resources = Array.from({ length: doses }, (_, i) => dose(`2021-0${(i % 9) + 1}-01`, `LOT${i}`));
  return signCard(
    { iss: ISS, nbf, types: cardTypes("immunization"), bundle: cardBundle(patient, resources), rid },
    key,
  );
}

function trustWith(crypto: PassportCrypto, key: SigningKey, revoked: string[] = []): TrustStore {
  const trust = new TrustStore(crypto);
  trust.addShcKey({
    jwk: key.jwk,
    issuer: ISS,
    issuerName: "City Clinic",
    source: "ledger",
    revokedAt: null,
  });
  trust.addCrl({ kid: key.jwk.kid, ctr: revoked.length, rids: parseRids(revoked), source: "ledger" });
  return trust;
}

describe("the browser's verification primitives", () => {
  const key = signingKey();
  const other = signingKey();
  const jws = card(key);
  const [header, payload, signature] = jws.split(".") as [string, string, string];
  const mid = Math.floor(payload.length / 2);
  const flip = (c: string | undefined) => (c === "A" ? "B" : "A");
  // a payload that is JSON, not raw DEFLATE, under a header that says zip DEF, signed properly
  const plainPayload = Buffer.from(JSON.stringify({ iss: ISS, nbf: NBF })).toString("base64url");
  const undeflated = `${header}.${plainPayload}.${signEs256(`${header}.${plainPayload}`, key.privateKey)}`;
  const bomb = Buffer.from(deflateRawSync(Buffer.alloc(2 << 20, 32))).toString("base64url");
  const bombed = `${header}.${bomb}.${signEs256(`${header}.${bomb}`, key.privateKey)}`;

  const cases: Array<[string, string[], string[], string | null]> = [
    ["a valid card", [jws], [], null],
    ["its shc:/ chunks of a large card", cardForms(card(key, 40)).qrPayloads, [], null],
    [
      "a payload byte changed",
      [`${header}.${payload.slice(0, mid)}${flip(payload[mid])}${payload.slice(mid + 1)}.${signature}`],
      [],
      "signature_invalid",
    ],
    [
      "a signature byte changed",
      [`${header}.${payload}.${flip(signature[3])}${signature.slice(1, 3)}${signature.slice(4)}`],
      [],
      "signature_invalid",
    ],
    [
      "a card of another key under this kid",
      [`${header}.${payload}.${card(other).split(".")[2]}`],
      [],
      "signature_invalid",
    ],
    ["a payload not deflated", [undeflated], [], "decompression_failed"],
    ["a payload inflating past 1 MiB", [bombed], [], "decompression_failed"],
    ["a revoked card", [jws], ["rid-1"], "revoked"],
    ["a card from the future", [card(key, 1, NOW.getTime() / 1000 + 3600)], [], "not_yet_valid"],
  ];

  it.each(cases)("give the node's report for %s", (_name, texts, revoked, reason) => {
    const node = verifyCredentialTexts(texts, trustWith(nodeCrypto, key, revoked), NOW);
    const browser = verifyCredentialTexts(texts, trustWith(browserCrypto, key, revoked), NOW);
    expect(browser).toEqual(node);
    expect(node).toHaveLength(1);
    expect(node[0]?.reason).toBe(reason);
    expect(node[0]?.valid).toBe(reason === null);
  });

  it("hash like the node's, and refuse a key that is not a point of the curve", () => {
    const bytes = Buffer.from("health card");
    expect(Buffer.from(browserCrypto.sha256(bytes))).toEqual(Buffer.from(nodeCrypto.sha256(bytes)));
    const offCurve = { x: key.jwk.x, y: key.jwk.x };
    const data = Buffer.from(`${header}.${payload}`);
    const sig = Buffer.from(signature, "base64url");
    expect(browserCrypto.verifyEs256(key.jwk, data, sig)).toBe(true);
    expect(browserCrypto.verifyEs256(offCurve, data, sig)).toBe(false);
    expect(nodeCrypto.verifyEs256(offCurve, data, sig)).toBe(false);
  });
});
