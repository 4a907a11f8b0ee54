/**
 * What a verifier trusts: SMART Health Card issuer keys (with the issuer URL they are bound to,
 * when known), their revocation lists, revoked keys, and EU DCC document signer certificates.
 * Filled from the ledger cache (issuers registered on chain) and from trust files a verifier gives.
 * Plain TypeScript over the platform's primitives (`crypto`), so the browser verifier uses it too.
 */
import { thumbprintOf, type IssuerJwk } from "./issuerJwk.js";
import { base64, type PassportCrypto } from "./passportCrypto.js";

export interface TrustedShcKey {
  jwk: IssuerJwk;
  /** The issuer URL (`iss`) the key belongs to; null when a trust file did not say. */
  issuer: string | null;
  issuerName: string | null;
  /** Where the trust came from: `ledger` or a file path. */
  source: string;
  /** Seconds since the epoch when the key was revoked; null while it stands. */
  revokedAt: number | null;
}

/** An issuer's revocation list for one key: rid -> revocation timestamp (seconds) or null for "all". */
export interface RevocationList {
  kid: string;
  ctr: number;
  rids: Map<string, number | null>;
  source: string;
}

/** What verification needs of a DSC certificate; node's X509Certificate is one (trustFiles.ts). */
export interface DscCertificate {
  readonly raw: Uint8Array;
  readonly fingerprint256: string;
  readonly subject: string;
  readonly validFrom: string;
  readonly validTo: string;
  /** The platform's public key object (a node KeyObject). */
  readonly publicKey: object;
}

export interface TrustedDsc {
  kid: string;
  certificate: DscCertificate;
  source: string;
}

export class TrustStore {
  readonly shcKeys = new Map<string, TrustedShcKey[]>();
  readonly crls = new Map<string, RevocationList>();
  readonly dscs = new Map<string, TrustedDsc[]>();
  ledgerReadAt: Date | null = null;

  /** @param crypto - the platform's hash, signature and inflate primitives verification uses */
  constructor(readonly crypto: PassportCrypto) {}

  /**
   * Trusts an issuer key. A key whose `kid` is not its RFC 7638 thumbprint is refused, so a kid can
   * never name a key other than its own.
   * @returns false when the key was refused
   */
  addShcKey(key: TrustedShcKey): boolean {
    if (thumbprintOf(key.jwk, this.crypto.sha256) !== key.jwk.kid) return false;
    const list = this.shcKeys.get(key.jwk.kid) ?? [];
    list.push(key);
    this.shcKeys.set(key.jwk.kid, list);
    return true;
  }

  /** Adds a CRL; of two lists for one kid the one with the higher `ctr` stands. */
  addCrl(crl: RevocationList): void {
    const current = this.crls.get(crl.kid);
    if (current === undefined || crl.ctr >= current.ctr) this.crls.set(crl.kid, crl);
  }

  /** Trusts a DCC document signer certificate under kid = first 8 bytes of SHA-256(DER), base64. */
  addDsc(certificate: DscCertificate, source: string): void {
    const kid = dscKid(certificate, this.crypto.sha256);
    const list = this.dscs.get(kid) ?? [];
    if (!list.some((dsc) => dsc.certificate.fingerprint256 === certificate.fingerprint256)) {
      list.push({ kid, certificate, source });
    }
    this.dscs.set(kid, list);
  }
}

/**
 * The EU DCC key identifier of a document signer certificate.
 * https://github.com/ehn-dcc-development/hcert-spec (section 3.3.1)
 */
export function dscKid(certificate: DscCertificate, sha256: PassportCrypto["sha256"]): string {
  return base64(sha256(certificate.raw).subarray(0, 8));
}

/**
 * Parses a CRL's rid entries (`rid` or `rid.timestamp`).
 * https://spec.smarthealth.cards/#revocation
 */
export function parseRids(entries: readonly string[]): Map<string, number | null> {
  const rids = new Map<string, number | null>();
  for (const entry of entries) {
    const dot = entry.indexOf(".");
    if (dot < 0) rids.set(entry, null);
    else {
      const timestamp = Number(entry.slice(dot + 1));
      rids.set(entry.slice(0, dot), Number.isFinite(timestamp) ? timestamp : null);
    }
  }
  return rids;
}
