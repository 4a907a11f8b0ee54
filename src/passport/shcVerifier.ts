/**
 * Verifies one SMART Health Card (compact JWS): decoding, issuer trust, ES256 signature, key and
 * card revocation (with the CRL timestamp rule), `nbf`/`exp`, and the bundle rules, each reported
 * on its own. Plain TypeScript over the trust store's platform primitives: the node and the
 * browser verifier run this same code. https://spec.smarthealth.cards/
 */
import { z } from "zod";
import { base64urlBytes, utf8Bytes, utf8Text, type PassportCrypto } from "./passportCrypto.js";
import { CheckList, PassportFormatError, type PassportReport } from "./passportReport.js";
import { cardFacts, cardPatient, contentProblem, shcPayloadSchema, type ShcPayload } from "./shcContent.js";
import type { TrustedShcKey, TrustStore } from "./trustStore.js";

/** Clock difference between issuer and verifier tolerated for `nbf`, in seconds. */
export const NBF_LEEWAY_SECONDS = 60;
const MAX_INFLATED_BYTES = 1 << 20;

const headerSchema = z
  .object({ alg: z.string(), kid: z.string().min(1), zip: z.string().optional() })
  .loose();

interface ParsedJws {
  signingInput: string;
  header: z.infer<typeof headerSchema>;
  payloadBytes: Uint8Array;
  signature: Uint8Array;
}

function parseJws(jws: string): ParsedJws {
  const parts = jws.trim().split(".");
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) {
    throw new PassportFormatError("malformed_jws", "JWS: not header.payload.signature in base64url");
  }
  const [headerPart = "", payloadPart = "", signaturePart = ""] = parts;
  let header: unknown;
  try {
    header = JSON.parse(utf8Text(base64urlBytes(headerPart)));
  } catch (cause) {
    throw new PassportFormatError("malformed_jws", "JWS: header is not JSON", { cause });
  }
  const parsed = headerSchema.safeParse(header);
  if (!parsed.success) throw new PassportFormatError("malformed_jws", "JWS: header lacks alg or kid");
  return {
    signingInput: `${headerPart}.${payloadPart}`,
    header: parsed.data,
    payloadBytes: base64urlBytes(payloadPart),
    signature: base64urlBytes(signaturePart),
  };
}

function decodePayload(jws: ParsedJws, crypto: PassportCrypto): ShcPayload {
  if (jws.header.zip !== "DEF") {
    throw new PassportFormatError("decompression_failed", 'JWS: header zip must be "DEF"');
  }
  let inflated: Uint8Array;
  try {
    inflated = crypto.inflateRaw(jws.payloadBytes, MAX_INFLATED_BYTES);
  } catch (cause) {
    throw new PassportFormatError("decompression_failed", "JWS: payload is not raw DEFLATE", { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8Text(inflated));
  } catch (cause) {
    throw new PassportFormatError("malformed_payload", "JWS: payload is not JSON", { cause });
  }
  const payload = shcPayloadSchema.safeParse(json);
  if (!payload.success) {
    const path = payload.error.issues[0]?.path.join(".") ?? "";
    throw new PassportFormatError(
      "malformed_payload",
      `JWT payload: ${path || "shape"} is not as the spec requires`,
    );
  }
  return payload.data;
}

const iso = (seconds: number): string => new Date(Math.round(seconds * 1000)).toISOString();

/**
 * Verifies a compact JWS SMART Health Card against a trust store.
 * @param jws - compact JWS
 * @param trust - trusted issuer keys, CRLs and revoked keys
 * @param now - verification time
 * @returns the report; `valid` only when every check passed
 */
export function verifyShcJws(jws: string, trust: TrustStore, now: Date): PassportReport {
  const checks = new CheckList();
  const report: PassportReport = {
    format: "smart-health-card",
    valid: false,
    reason: null,
    issuer: { id: null, kid: null, name: null, trustedBy: null },
    patient: null,
    facts: [],
    issuedAt: null,
    expiresAt: null,
    checks: [],
  };
  const finish = (): PassportReport => {
    Object.assign(report, checks.outcome(), { checks: checks.list() });
    if (trust.ledgerReadAt !== null) {
      report.ledgerCache = {
        readAt: trust.ledgerReadAt.toISOString(),
        ageSeconds: Math.max(0, Math.round((now.getTime() - trust.ledgerReadAt.getTime()) / 1000)),
      };
    }
    return report;
  };

  let parsed: ParsedJws;
  try {
    parsed = parseJws(jws);
  } catch (error) {
    checks.fail("payload-well-formed", reasonOf(error), messageOf(error));
    return finish();
  }
  report.issuer.kid = parsed.header.kid;

  let payload: ShcPayload | null = null;
  try {
    if (parsed.header.alg !== "ES256")
      throw new PassportFormatError("malformed_jws", "JWS: alg must be ES256");
    payload = decodePayload(parsed, trust.crypto);
    checks.pass("payload-well-formed");
    report.issuer.id = payload.iss;
    report.patient = cardPatient(payload);
    report.facts = cardFacts(payload);
    report.issuedAt = iso(payload.nbf);
    report.expiresAt = payload.exp === undefined ? null : iso(payload.exp);
  } catch (error) {
    checks.fail("payload-well-formed", reasonOf(error), messageOf(error));
  }

  // An unreadable payload names no issuer: its signature is still checked with the kid's key, so
  // altered bytes are reported as such.
  const key =
    trustedKey(trust, parsed.header.kid, payload?.iss ?? null) ??
    (payload === null ? (trust.shcKeys.get(parsed.header.kid)?.[0] ?? null) : null);
  if (key === null) {
    checks.fail("issuer-trusted", "untrusted_key", "no trusted key has this kid for this issuer");
    checks.skip("signature", "no trusted key to check it with");
  } else {
    report.issuer.name = key.issuerName;
    report.issuer.trustedBy = key.source;
    checks.pass(
      "issuer-trusted",
      key.issuer === null ? `kid found in ${key.source}` : `kid registered for ${key.issuer}`,
    );
    if (verifiesWith(parsed, key, trust.crypto)) checks.pass("signature", "ES256 over P-256");
    else
      checks.fail(
        "signature",
        "signature_invalid",
        "ES256 signature does not verify with the key named by kid",
      );
    if (key.revokedAt !== null) {
      checks.fail("key-not-revoked", "key_revoked", `issuer revoked this key at ${iso(key.revokedAt)}`);
    } else checks.pass("key-not-revoked");
  }
  if (payload === null) return finish();

  checkCardRevocation(checks, trust, parsed.header.kid, payload);
  const nowSeconds = now.getTime() / 1000;
  if (payload.nbf > nowSeconds + NBF_LEEWAY_SECONDS) {
    checks.fail("not-before", "not_yet_valid", `nbf ${iso(payload.nbf)} is in the future`);
  } else checks.pass("not-before");
  if (payload.exp !== undefined && payload.exp < nowSeconds) {
    checks.fail("not-expired", "expired", `exp ${iso(payload.exp)} has passed`);
  } else checks.pass("not-expired", payload.exp === undefined ? "no exp" : undefined);
  const problem = contentProblem(payload);
  if (problem === null) checks.pass("content-valid");
  else checks.fail("content-valid", "invalid_content", problem);
  return finish();
}

function trustedKey(trust: TrustStore, kid: string, iss: string | null): TrustedShcKey | null {
  const keys = trust.shcKeys.get(kid) ?? [];
  // A key the ledger binds to an issuer counts only for that issuer; a trust file's key for any.
  const bound = keys.find((key) => key.issuer !== null && key.issuer === iss);
  return bound ?? keys.find((key) => key.issuer === null) ?? null;
}

function verifiesWith(jws: ParsedJws, key: TrustedShcKey, crypto: PassportCrypto): boolean {
  if (jws.signature.length !== 64) return false;
  return crypto.verifyEs256(key.jwk, utf8Bytes(jws.signingInput), jws.signature);
}

/**
 * The spec's revocation rule: a card is revoked when its `rid` is in the key's CRL and, if the
 * entry carries a timestamp suffix, the card's `nbf` is before it.
 * https://spec.smarthealth.cards/#revocation
 */
function checkCardRevocation(checks: CheckList, trust: TrustStore, kid: string, payload: ShcPayload): void {
  const rid = payload.vc.rid;
  const crl = trust.crls.get(kid);
  if (rid === undefined) return checks.pass("card-not-revoked", "card has no rid");
  if (crl === undefined) return checks.pass("card-not-revoked", "no revocation list known for this key");
  if (!crl.rids.has(rid)) return checks.pass("card-not-revoked", `rid not in CRL version ${crl.ctr}`);
  const timestamp = crl.rids.get(rid) ?? null;
  if (timestamp !== null && payload.nbf >= timestamp) {
    return checks.pass("card-not-revoked", "rid revoked only for cards issued before the revocation time");
  }
  checks.fail("card-not-revoked", "revoked", `issuer revoked this card (CRL version ${crl.ctr})`);
}

function reasonOf(error: unknown): PassportFormatError["reason"] {
  if (error instanceof PassportFormatError) return error.reason;
  throw error;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : "decoding failed";
}
