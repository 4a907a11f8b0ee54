/**
 * Makes a SMART Health Card from a bundle: the JWT payload (`iss`, `nbf`, `vc`), raw DEFLATE,
 * a compact JWS signed ES256 with header `zip: DEF` and `kid`, and every form a holder carries it
 * in: `shc:/` QR payloads (chunked when large), the `.smart-health-card` file, QR PNG and SVG.
 * https://spec.smarthealth.cards/#health-cards-are-encoded-as-compact-serialization-json-web-signatures-jws
 */
import { deflateRawSync } from "node:zlib";
import type { SigningKey } from "./issuerKeys.js";
import { signEs256 } from "./issuerKeys.js";
import { qrPng, qrSvg } from "./qrImage.js";
import { encodeShcUris } from "./shcNumeric.js";

export interface CardClaims {
  iss: string;
  /** Unix seconds. */
  nbf: number;
  types: readonly string[];
  bundle: Record<string, unknown>;
  rid: string;
  fhirVersion?: string;
}

/**
 * Signs a card.
 * @returns the compact JWS
 */
export function signCard(claims: CardClaims, key: SigningKey): string {
  const header = { zip: "DEF", alg: "ES256", kid: key.jwk.kid };
  const payload = {
    iss: claims.iss,
    nbf: claims.nbf,
    vc: {
      type: claims.types,
      rid: claims.rid,
      credentialSubject: { fhirVersion: claims.fhirVersion ?? "4.0.1", fhirBundle: claims.bundle },
    },
  };
  const headerPart = Buffer.from(JSON.stringify(header)).toString("base64url");
  const payloadPart = deflateRawSync(Buffer.from(JSON.stringify(payload))).toString("base64url");
  const signingInput = `${headerPart}.${payloadPart}`;
  return `${signingInput}.${signEs256(signingInput, key.privateKey)}`;
}

export interface CardForms {
  jws: string;
  /** One `shc:/` payload per QR code. */
  qrPayloads: string[];
  /** The `.smart-health-card` file (application/smart-health-card). */
  file: string;
}

/** The text forms of a signed card. */
export function cardForms(jws: string): CardForms {
  return {
    jws,
    qrPayloads: encodeShcUris(jws),
    file: `${JSON.stringify({ verifiableCredential: [jws] })}\n`,
  };
}

/** The card's QR codes as PNG images, one per `shc:/` payload. */
export function cardQrPngs(forms: CardForms): Promise<Buffer[]> {
  return Promise.all(forms.qrPayloads.map((payload) => qrPng(payload)));
}

/** The card's QR codes as SVG documents. */
export function cardQrSvgs(forms: CardForms): Promise<string[]> {
  return Promise.all(forms.qrPayloads.map((payload) => qrSvg(payload)));
}
