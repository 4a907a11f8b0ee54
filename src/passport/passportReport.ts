/**
 * What a verifier tells about a health credential (SMART Health Card or EU DCC): who issued it,
 * whom it is about, the facts it states, and each check on its own line, so a person at a gate
 * sees why a card fails and a machine reads the reason code.
 */
import { BaseError } from "../errors/BaseError.js";

/** Why a credential is not valid; the SHC and DCC conformance sets name the same reasons. */
export type ReasonCode =
  | "malformed_shc_uri"
  | "malformed_jws"
  | "decompression_failed"
  | "malformed_payload"
  | "signature_invalid"
  | "untrusted_key"
  | "unknown_kid"
  | "key_revoked"
  | "key_expired"
  | "revoked"
  | "not_yet_valid"
  | "expired"
  | "invalid_content"
  | "bad_prefix"
  | "bad_base45"
  | "bad_compression"
  | "bad_cose_structure";

/** The checks every report lists, in the order they are shown. */
export const CHECK_NAMES = [
  "payload-well-formed",
  "issuer-trusted",
  "signature",
  "key-not-revoked",
  "card-not-revoked",
  "not-before",
  "not-expired",
  "content-valid",
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface CheckResult {
  name: CheckName;
  /** `skipped`: an earlier failure left nothing to check (no key, no payload) or the format has no such rule. */
  status: "pass" | "fail" | "skipped";
  reason?: ReasonCode;
  detail?: string;
}

/** One fact a card states: a dose given, a test result, a recovery. */
export interface HealthFact {
  kind: "immunization" | "test" | "recovery" | "other";
  system?: string | undefined;
  code?: string | undefined;
  display?: string | undefined;
  date?: string | undefined;
  lotNumber?: string | undefined;
  status?: string | undefined;
  result?: string | undefined;
  /** The resource type (SHC) or DCC group (`v`, `t`, `r`) the fact comes from. */
  source: string;
}

export interface PassportReport {
  format: "smart-health-card" | "eu-dcc";
  valid: boolean;
  /** The failing signature's reason, else the first failing check's in the order of CHECK_NAMES; null when valid. */
  reason: ReasonCode | null;
  issuer: { id: string | null; kid: string | null; name: string | null; trustedBy: string | null };
  patient: { name: string; birthDate: string | null } | null;
  facts: HealthFact[];
  issuedAt: string | null;
  expiresAt: string | null;
  checks: CheckResult[];
  /** Set when a ledger cache took part: when it was read from the ledger and how old it is. */
  ledgerCache?: { readAt: string; ageSeconds: number };
}

/** A decoding step failed; the verifier turns it into a failed check with this reason. */
export class PassportFormatError extends BaseError {
  readonly reason: ReasonCode;
  constructor(reason: ReasonCode, message: string, options?: { cause?: unknown }) {
    super("invalid", message, options);
    this.reason = reason;
  }
}

/** Collects check results and derives `valid` and `reason` from them. */
export class CheckList {
  private readonly results = new Map<CheckName, CheckResult>();

  pass(name: CheckName, detail?: string): void {
    this.results.set(
      name,
      detail === undefined ? { name, status: "pass" } : { name, status: "pass", detail },
    );
  }

  fail(name: CheckName, reason: ReasonCode, detail: string): void {
    this.results.set(name, { name, status: "fail", reason, detail });
  }

  skip(name: CheckName, detail: string): void {
    this.results.set(name, { name, status: "skipped", detail });
  }

  failed(name: CheckName): boolean {
    return this.results.get(name)?.status === "fail";
  }

  /** Every check in display order; one never set counts as skipped because an earlier one failed. */
  list(): CheckResult[] {
    return CHECK_NAMES.map(
      (name) => this.results.get(name) ?? { name, status: "skipped", detail: "not reached" },
    );
  }

  /** A credential is valid only when no check failed and the signature was checked. */
  outcome(): { valid: boolean; reason: ReasonCode | null } {
    const checks = this.list();
    // A signature that does not verify is the reason whatever else is wrong: the bytes were altered.
    const failure =
      checks.find((check) => check.name === "signature" && check.status === "fail") ??
      checks.find((check) => check.status === "fail");
    if (failure !== undefined) return { valid: false, reason: failure.reason ?? null };
    const signed = checks.find((check) => check.name === "signature")?.status === "pass";
    const trusted = checks.find((check) => check.name === "issuer-trusted")?.status === "pass";
    return signed && trusted ? { valid: true, reason: null } : { valid: false, reason: "malformed_payload" };
  }
}
