/**
 * Digital health passport throughput on one thread: SMART Health Card verifications per second
 * (shc:/ text -> JWS -> ES256 -> inflate -> checks -> report) beside @pathcheck/shc-sdk verifying
 * the same cards in the same run, card issuance per second (sign + shc:/ forms, and with the QR
 * PNG), and EU DCC verifications per second over the published valid test cases. PathCheck's SDK
 * resolves issuer keys over the network (`${iss}/.well-known/jwks.json`) on every verification;
 * here its fetch answers from memory, so what is compared is decoding and cryptography, not I/O.
 * @pathcheck/dcc-sdk is not compared: it does not load on Node 20 here (its `esm` loader cannot
 * parse @peculiar/webcrypto). Run: `npx tsx bench/passport.ts [--quick]`.
 */
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { cardBundle, cardTypes } from "../src/passport/cardBundle.js";
import { cardForms, cardQrPngs, signCard } from "../src/passport/cardSigner.js";
import type { SigningKey } from "../src/passport/issuerKeys.js";
import { publicJwk } from "../src/passport/jwk.js";
import { readTrustFiles } from "../src/passport/trustFiles.js";
import { nodeCrypto } from "../src/passport/nodeCrypto.js";
import { TrustStore } from "../src/passport/trustStore.js";
import { verifyPassport } from "../src/passport/verifyPassport.js";
import { isMain, round, runAsScript, type BenchOptions } from "./support/report.js";

const ISS = "https://issuer.bench.example";
const require = createRequire(import.meta.url);
const WARM_UP = 50;

/** Runs `step` for about `ms` milliseconds (after a warm-up) and returns operations per second. */
async function rate(
  ms: number,
  step: (i: number) => unknown,
): Promise<{ perSecond: number; operations: number }> {
  for (let i = 0; i < WARM_UP; i++) await step(i);
  let operations = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    await step(operations);
    operations++;
  }
  return { perSecond: round((operations * 1000) / (performance.now() - started), 0), operations };
}

function patientBundle(i: number): Record<string, unknown> {
  const patient = {
    resourceType: "Patient",
    name: [{ family: `Bench${i}`, given: ["Pat"] }],
    birthDate: "1970-01-01",
  };
  const doses = [1, 2, 3].map((dose) => ({
    resourceType: "Immunization",
    status: "completed",
    vaccineCode: { coding: [{ system: "http://hl7.org/fhir/sid/cvx", code: "208" }] },
    occurrenceDateTime: `2021-0${dose}-15`,
    performer: [{ actor: { display: "Bench Clinic" } }],
    lotNumber: `LOT${i}-${dose}`,
  }));
  return cardBundle(patient, doses);
}

/** @pathcheck/shc-sdk with its fetch answering from memory: the trust registry empty, the issuer's JWKS. */
function pathcheckSdk(jwks: object): { unpackAndVerify(uri: string): Promise<unknown> } {
  const fetchPath = require.resolve("cross-fetch", { paths: [require.resolve("@pathcheck/shc-sdk")] });
  const answer = (body: unknown) => ({
    status: 200,
    json: async () => body,
    text: async () => JSON.stringify(body),
  });
  const fetchStub = async (url: string) =>
    answer(url.endsWith("/.well-known/jwks.json") ? jwks : { SmartHealthCards: {} });
  require.cache[fetchPath] = {
    id: fetchPath,
    filename: fetchPath,
    loaded: true,
    exports: Object.assign(fetchStub, { default: fetchStub }),
  } as never;
  return require("@pathcheck/shc-sdk") as { unpackAndVerify(uri: string): Promise<unknown> };
}

export async function runPassportBench({ quick }: BenchOptions): Promise<object> {
  const ms = quick ? 1000 : 4000;
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const key: SigningKey = { jwk: publicJwk(publicKey.export({ format: "jwk" })), privateKey };
  const nbf = Math.floor(Date.now() / 1000) - 60;
  const cards = Array.from({ length: 200 }, (_, i) =>
    cardForms(
      signCard(
        { iss: ISS, nbf, types: cardTypes("immunization"), bundle: patientBundle(i), rid: `r${i}` },
        key,
      ),
    ),
  );
  const uris = cards.map((card) => card.qrPayloads[0] ?? "");
  const trust = new TrustStore(nodeCrypto);
  trust.addShcKey({ jwk: key.jwk, issuer: ISS, issuerName: "Bench", source: "ledger", revokedAt: null });
  const now = new Date();

  let ours = 0;
  const oursRate = await rate(ms, (i) => {
    if (verifyPassport([uris[i % uris.length] ?? ""], trust, now)[0]?.valid === true) ours++;
  });
  const sdk = pathcheckSdk({ keys: [key.jwk] });
  let theirs = 0;
  const log = console.log;
  console.log = () => undefined; // the SDK logs its registry lookups
  const theirRate = await rate(ms, async (i) => {
    if ((await sdk.unpackAndVerify(uris[i % uris.length] ?? "")) !== undefined) theirs++;
  });
  console.log = log;

  const issueRate = await rate(ms, (i) =>
    cardForms(
      signCard(
        { iss: ISS, nbf, types: cardTypes("immunization"), bundle: patientBundle(i), rid: `i${i}` },
        key,
      ),
    ),
  );
  const issueWithQr = await rate(ms, async (i) =>
    cardQrPngs(
      cardForms(
        signCard(
          { iss: ISS, nbf, types: cardTypes("immunization"), bundle: patientBundle(i), rid: `q${i}` },
          key,
        ),
      ),
    ),
  );

  const dccDir = join(import.meta.dirname, "..", "test", "fixtures", "passport", "dcc");
  const dccCases = (
    JSON.parse(readFileSync(join(dccDir, "cases.json"), "utf8")) as {
      cases: Array<{ file: string; expected: string; validation_clock: string }>;
    }
  ).cases
    .filter((c) => c.expected === "valid")
    .map((c) => ({
      text: (JSON.parse(readFileSync(join(dccDir, c.file), "utf8")) as { PREFIX: string }).PREFIX,
      now: new Date(c.validation_clock),
    }));
  const dccTrust = readTrustFiles([join(dccDir, "trust")]);
  let dccValid = 0;
  const dccRate = await rate(ms, (i) => {
    const c = dccCases[i % dccCases.length];
    if (c !== undefined && verifyPassport([c.text], dccTrust, c.now)[0]?.valid === true) dccValid++;
  });

  return {
    shcVerify: {
      carechainPerSecond: oursRate.perSecond,
      pathcheckShcSdkPerSecond: theirRate.perSecond,
      ratio: round(oursRate.perSecond / theirRate.perSecond, 2),
      // every verification (warm-up included) found its card valid, in both verifiers
      allValid: {
        carechain: ours === oursRate.operations + WARM_UP,
        pathcheck: theirs === theirRate.operations + WARM_UP,
      },
      cards: cards.length,
      jwsBytes: cards[0]?.jws.length,
    },
    shcIssue: { perSecond: issueRate.perSecond, withQrPngPerSecond: issueWithQr.perSecond },
    dccVerify: {
      carechainPerSecond: dccRate.perSecond,
      allValid: dccValid === dccRate.operations + WARM_UP,
      cases: dccCases.length,
      pathcheckDccSdk: "not run: does not load on Node 20 (its esm loader cannot parse @peculiar/webcrypto)",
    },
  };
}

if (isMain(import.meta.url)) await runAsScript(runPassportBench);
