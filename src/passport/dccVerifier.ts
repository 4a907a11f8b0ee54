/**
 * Verifies an EU Digital COVID Certificate (`HC1:`): Base45, zlib, COSE_Sign1 over a CBOR Web
 * Token, signed by a document signer certificate (DSC) found by kid in the verifier's trust list.
 * The report has the same shape as a SMART Health Card's.
 * https://github.com/ehn-dcc-development/hcert-spec, RFC 9052 (COSE), RFC 8392 (CWT), RFC 9285 (Base45)
 */
import { constants, verify as verifySignature, type KeyObject } from "node:crypto";
import { inflateSync } from "node:zlib";
import base45 from "base45";
import cbor from "cbor";
import { z } from "zod";
import { CheckList, PassportFormatError, type HealthFact, type PassportReport } from "./passportReport.js";
import type { DscCertificate, TrustedDsc, TrustStore } from "./trustStore.js";

const BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const COSE_SIGN1_TAG = 18;
const HEADER_ALG = 1;
const HEADER_KID = 4;
const ALG_ES256 = -7;
const ALG_PS256 = -37;
const CWT_ISS = 1;
const CWT_EXP = 4;
const CWT_IAT = 6;
const CWT_HCERT = -260;
const MAX_INFLATED_BYTES = 1 << 16;

/** Strict Base45 (RFC 9285): every character in the alphabet, every group in range. */
function decodeBase45(text: string): Buffer {
  if (text.length % 3 === 1) throw new PassportFormatError("bad_base45", "HC1: Base45 length is invalid");
  for (let i = 0; i < text.length; i += 3) {
    const group = text.slice(i, i + 3);
    let value = 0;
    for (let j = group.length - 1; j >= 0; j--) {
      const digit = BASE45_ALPHABET.indexOf(group.charAt(j));
      if (digit < 0)
        throw new PassportFormatError("bad_base45", "HC1: character outside the Base45 alphabet");
      value = value * 45 + digit;
    }
    if (value > (group.length === 3 ? 0xffff : 0xff)) {
      throw new PassportFormatError("bad_base45", "HC1: Base45 group out of range");
    }
  }
  return base45.decode(text);
}

interface CoseSign1 {
  protectedBytes: Buffer;
  protectedHeader: Map<number, unknown>;
  unprotectedHeader: Map<number, unknown>;
  payload: Buffer;
  signature: Buffer;
}

function decodeCose(bytes: Buffer): CoseSign1 {
  let decoded: unknown;
  try {
    decoded = cbor.decodeFirstSync(bytes);
  } catch (cause) {
    throw new PassportFormatError("bad_cose_structure", "HC1: COSE_Sign1 is not CBOR", { cause });
  }
  const array = decoded instanceof cbor.Tagged && decoded.tag === COSE_SIGN1_TAG ? decoded.value : decoded;
  if (!Array.isArray(array) || array.length !== 4) {
    throw new PassportFormatError("bad_cose_structure", "HC1: not a COSE_Sign1 array of four");
  }
  const [protectedBytes, unprotectedHeader, payload, signature] = array as unknown[];
  if (!Buffer.isBuffer(protectedBytes) || !Buffer.isBuffer(payload) || !Buffer.isBuffer(signature)) {
    throw new PassportFormatError("bad_cose_structure", "HC1: COSE_Sign1 members are not byte strings");
  }
  const protectedHeader = protectedBytes.length === 0 ? new Map() : cbor.decodeFirstSync(protectedBytes);
  if (
    !(protectedHeader instanceof Map) ||
    !(unprotectedHeader instanceof Map || isEmptyObject(unprotectedHeader))
  ) {
    throw new PassportFormatError("bad_cose_structure", "HC1: COSE headers are not maps");
  }
  return {
    protectedBytes,
    protectedHeader: protectedHeader as Map<number, unknown>,
    unprotectedHeader:
      unprotectedHeader instanceof Map ? (unprotectedHeader as Map<number, unknown>) : new Map(),
    payload,
    signature,
  };
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 0;
}

const nameSchema = z.object({
  fn: z.string().optional(),
  gn: z.string().optional(),
  fnt: z.string(),
  gnt: z.string().optional(),
});
const hcertSchema = z
  .object({
    ver: z.string(),
    nam: nameSchema,
    dob: z.string(),
    v: z.array(z.record(z.string(), z.unknown())).optional(),
    t: z.array(z.record(z.string(), z.unknown())).optional(),
    r: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .loose();
type Hcert = z.infer<typeof hcertSchema>;

interface Cwt {
  iss: string | null;
  iat: number | null;
  exp: number | null;
  hcert: unknown;
}

function decodeCwt(payload: Buffer): Cwt {
  let claims: unknown;
  try {
    claims = cbor.decodeFirstSync(payload);
  } catch (cause) {
    throw new PassportFormatError("bad_cose_structure", "HC1: CWT payload is not CBOR", { cause });
  }
  if (!(claims instanceof Map)) throw new PassportFormatError("bad_cose_structure", "HC1: CWT is not a map");
  const hcert: unknown = claims.get(CWT_HCERT);
  if (!(hcert instanceof Map))
    throw new PassportFormatError("bad_cose_structure", "HC1: CWT lacks the hcert claim");
  const num = (value: unknown): number | null => (typeof value === "number" ? value : null);
  const iss: unknown = claims.get(CWT_ISS);
  return {
    iss: typeof iss === "string" ? iss : null,
    iat: num(claims.get(CWT_IAT)),
    exp: num(claims.get(CWT_EXP)),
    hcert: hcert.get(1),
  };
}

function verifiesWith(cose: CoseSign1, certificate: DscCertificate): boolean {
  const signed = cbor.encode(["Signature1", cose.protectedBytes, Buffer.alloc(0), cose.payload]);
  const alg = cose.protectedHeader.get(HEADER_ALG) ?? cose.unprotectedHeader.get(HEADER_ALG);
  // trust files add node X509Certificates, whose public key is a KeyObject
  const key = certificate.publicKey as KeyObject;
  try {
    if (alg === ALG_ES256) {
      return verifySignature("sha256", signed, { key, dsaEncoding: "ieee-p1363" }, cose.signature);
    }
    if (alg === ALG_PS256) {
      return verifySignature(
        "sha256",
        signed,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        cose.signature,
      );
    }
  } catch {
    return false;
  }
  return false;
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

function kidOf(cose: CoseSign1): string | null {
  // The protected kid wins; the unprotected one counts only when the protected header has none.
  const kid = cose.protectedHeader.get(HEADER_KID) ?? cose.unprotectedHeader.get(HEADER_KID);
  return Buffer.isBuffer(kid) ? kid.toString("base64") : null;
}

/**
 * Verifies an `HC1:` EU DCC against the trusted document signer certificates.
 * @param text - the QR text, `HC1:` + Base45
 * @param trust - store with the DSCs
 * @param now - verification time (the conformance cases use their VALIDATIONCLOCK)
 */
export function verifyDcc(text: string, trust: TrustStore, now: Date): PassportReport {
  const checks = new CheckList();
  const report: PassportReport = {
    format: "eu-dcc",
    valid: false,
    reason: null,
    issuer: { id: null, kid: null, name: null, trustedBy: null },
    patient: null,
    facts: [],
    issuedAt: null,
    expiresAt: null,
    checks: [],
  };
  const finish = (): PassportReport => Object.assign(report, checks.outcome(), { checks: checks.list() });

  let cose: CoseSign1;
  let cwt: Cwt;
  try {
    if (!text.startsWith("HC1:")) throw new PassportFormatError("bad_prefix", "HC1: prefix must be HC1:");
    const compressed = decodeBase45(text.slice(4).trim());
    let bytes: Buffer;
    try {
      bytes = inflateSync(compressed, { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (cause) {
      throw new PassportFormatError("bad_compression", "HC1: payload is not zlib data", { cause });
    }
    cose = decodeCose(bytes);
    cwt = decodeCwt(cose.payload);
    checks.pass("payload-well-formed");
  } catch (error) {
    if (!(error instanceof PassportFormatError)) throw error;
    checks.fail("payload-well-formed", error.reason, error.message);
    return finish();
  }
  const kid = kidOf(cose);
  report.issuer.kid = kid;
  report.issuer.id = cwt.iss;
  report.issuedAt = cwt.iat === null ? null : iso(cwt.iat);
  report.expiresAt = cwt.exp === null ? null : iso(cwt.exp);

  const candidates: TrustedDsc[] = kid === null ? [] : (trust.dscs.get(kid) ?? []);
  if (candidates.length === 0) {
    checks.fail("issuer-trusted", "unknown_kid", "no trusted document signer certificate has this kid");
    checks.skip("signature", "no trusted certificate to check it with");
  } else {
    const signer = candidates.find((dsc) => verifiesWith(cose, dsc.certificate));
    const shown = signer ?? candidates[0];
    report.issuer.name = shown?.certificate.subject.replaceAll("\n", ", ") ?? null;
    report.issuer.trustedBy = shown?.source ?? null;
    checks.pass("issuer-trusted", "kid names a trusted document signer certificate");
    if (signer === undefined) checks.fail("signature", "signature_invalid", "COSE signature does not verify");
    else {
      checks.pass("signature", "COSE_Sign1");
      // The DSC must have been valid when it signed (CWT iat); the CWT's own exp bounds the card.
      const signedAt = cwt.iat === null ? now : new Date(cwt.iat * 1000);
      const from = new Date(signer.certificate.validFrom);
      const to = new Date(signer.certificate.validTo);
      if (signedAt < from || signedAt > to) {
        checks.fail(
          "key-not-revoked",
          "key_expired",
          "the signer certificate was not valid when the card was signed",
        );
      } else checks.pass("key-not-revoked", "signer certificate valid when the card was signed");
    }
  }
  checks.skip("card-not-revoked", "DCC revocation lists are not consulted");
  const nowSeconds = now.getTime() / 1000;
  if (cwt.iat !== null && cwt.iat > nowSeconds) {
    checks.fail("not-before", "not_yet_valid", `issued at ${iso(cwt.iat)}, after the verification time`);
  } else checks.pass("not-before");
  if (cwt.exp !== null && cwt.exp < nowSeconds) {
    checks.fail("not-expired", "expired", `exp ${iso(cwt.exp)} has passed`);
  } else checks.pass("not-expired");

  const hcert = hcertSchema.safeParse(mapsToObjects(cwt.hcert));
  if (!hcert.success) {
    checks.fail("content-valid", "invalid_content", "hcert lacks ver, nam or dob");
    return finish();
  }
  const groups = (["v", "t", "r"] as const).filter((group) => (hcert.data[group]?.length ?? 0) > 0);
  if (groups.length !== 1)
    checks.fail("content-valid", "invalid_content", "hcert must hold exactly one of v, t, r");
  else checks.pass("content-valid");
  report.patient = { name: holderName(hcert.data), birthDate: hcert.data.dob };
  report.facts = dccFacts(hcert.data);
  return finish();
}

function mapsToObjects(value: unknown): unknown {
  if (value instanceof Map) {
    return Object.fromEntries(
      [...value.entries()].map(([key, inner]) => [String(key), mapsToObjects(inner)]),
    );
  }
  if (Array.isArray(value)) return value.map(mapsToObjects);
  return value;
}

function holderName(hcert: Hcert): string {
  const given = hcert.nam.gn ?? hcert.nam.gnt ?? "";
  const family = hcert.nam.fn ?? hcert.nam.fnt;
  return given === "" ? family : `${given} ${family}`;
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

function dccFacts(hcert: Hcert): HealthFact[] {
  const withoutUndefined = (fact: HealthFact): HealthFact =>
    Object.fromEntries(
      Object.entries(fact).filter(([, value]) => value !== undefined),
    ) as unknown as HealthFact;
  return [
    ...(hcert.v ?? []).map((entry) =>
      withoutUndefined({
        kind: "immunization",
        source: "v",
        system: "https://ec.europa.eu/health/documents/community-register/html/",
        code: text(entry["mp"]),
        display: `dose ${String(entry["dn"])}/${String(entry["sd"])}`,
        date: text(entry["dt"]),
      } as HealthFact),
    ),
    ...(hcert.t ?? []).map((entry) =>
      withoutUndefined({
        kind: "test",
        source: "t",
        system: "http://loinc.org",
        code: text(entry["tt"]),
        date: text(entry["sc"]),
        result:
          text(entry["tr"]) === "260415000"
            ? "not detected"
            : text(entry["tr"]) === "260373001"
              ? "detected"
              : text(entry["tr"]),
      } as HealthFact),
    ),
    ...(hcert.r ?? []).map((entry) =>
      withoutUndefined({
        kind: "recovery",
        source: "r",
        date: text(entry["fr"]),
        display: "recovered",
      } as HealthFact),
    ),
  ];
}
