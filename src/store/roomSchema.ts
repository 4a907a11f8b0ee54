/**
 * Table types of the SMART and CDS Hooks front doors and of the passport and research rooms
 * (their migrations: 021, 023, 025, 027). The node's `Schema` (src/store/schema.ts) names them.
 */
import type { Generated } from "kysely";

/** A SMART Health Card issuer key of this node (src/passport); the private key only wrapped. */
export interface PassportIssuerKeyTable {
  kid: string;
  /** The public JWK as published. */
  public_jwk: string;
  /** PKCS#8 DER of the private key, wrapped by the key provider under `passport-issuer-key:<kid>`. */
  wrapped_private_key: Uint8Array;
  provider_id: string;
  status: "active" | "retired" | "revoked";
  created_at: number;
}

/** A SMART Health Card this node issued: whose, signed by which key, and its revocation id. */
export interface PassportCardTable {
  card_id: string;
  patient_id: string;
  kid: string;
  rid: string;
  card_type: string;
  /** The card's `nbf`, unix seconds. */
  nbf: number;
  /** Account of who asked for it (the patient, or a practitioner for the patient). */
  issued_by: string;
  revoked_at: number | null;
}

/** A CDS client (EHR) this node trusts: its JWT issuer and public JWK Set (migration 025). */
export interface CdsClientTable {
  iss: string;
  name: string;
  /** JSON of the client's public JWK Set. */
  jwks: string;
  /** Unix milliseconds. */
  created_at: number;
}

/** A CDS client JWT id seen (issuer + jti), kept until the JWT expires, so a replay is refused. */
export interface CdsJwtIdTable {
  key: string;
  /** Unix milliseconds. */
  expires_at: number;
}

/** Feedback a CDS client sent on a card. */
export interface CdsFeedbackTable {
  id: Generated<number>;
  service: string;
  iss: string;
  card: string;
  outcome: string;
  /** JSON array of accepted suggestion ids. */
  suggestions: string;
  /** JSON of the override reason, if any. */
  override_reason: string | null;
  outcome_at: string;
  /** Unix milliseconds. */
  received_at: number;
}

/** An app registered for SMART App Launch (src/smart/smartStore.ts). */
export interface SmartClientTable {
  client_id: string;
  name: string;
  /** 1: a confidential client (authenticates with its secret); 0: a public one (PKCE only). */
  confidential: number;
  /** SHA-256 hex of the client secret (confidential clients). */
  secret_hash: string | null;
  /** JSON array of the exact redirect URIs. */
  redirect_uris: string;
  /** The scopes the app may ask for, space-separated. */
  scope: string;
  /** Unix milliseconds. */
  created_at: number;
}

/** An authorization code waiting for its token request. */
export interface SmartCodeTable {
  /** SHA-256 hex of the code. */
  code_hash: string;
  client_id: string;
  /** The grant the code starts: every token issued from it carries this id. */
  grant_id: string;
  /** JSON of the approving user (account, kind, organization, role, patient). */
  user_json: string;
  scope: string;
  redirect_uri: string;
  code_challenge: string;
  code_challenge_method: string;
  /** Unix milliseconds. */
  expires_at: number;
  /** Unix milliseconds at which the code was redeemed; null while unused. */
  used_at: number | null;
}

/** An access or refresh token issued to an app. */
export interface SmartTokenTable {
  /** SHA-256 hex of the token. */
  token_hash: string;
  kind: "access" | "refresh";
  client_id: string;
  grant_id: string;
  user_json: string;
  scope: string;
  /** Unix milliseconds. */
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
}

/** A study this node knows (src/research): its own organization's, or one a sponsor's node shared. */
export interface ResearchStudyTable {
  study_id: string;
  /** The sponsoring organization's id. */
  organization: string;
  /** The definition's canonical JSON. */
  definition: string;
  protocol_hash: string;
  created_by: string;
  created_at: number;
  closed_at: number | null;
}

/** A patient's enrollment in a study at this node, with their signed research consent. */
export interface ResearchEnrollmentTable {
  study_id: string;
  account: string;
  /** The per-study pseudonym the ledger knows them by (bytes32). */
  participant: string;
  payout: string;
  /** The signed ResearchConsent (JSON). */
  consent: string;
  signature: string;
  /** Salt of the commitment on the ledger. */
  salt: string;
  commitment: string;
  enrolled_at: number;
  withdrawn_at: number | null;
}

/** A release this node made for a study (extract or DP aggregate). */
export interface ResearchReleaseTable {
  release_id: string;
  study_id: string;
  kind: string;
  release_hash: string;
  epsilon_micros: number;
  k: number;
  participants: number;
  /** The released JSON (de-identified or noisy: never PHI). */
  body: string;
  requested_by: string;
  created_at: number;
}

/** One contribution of one participant to one release, paid once (outbox intent id once written). */
export interface ResearchContributionTable {
  contribution: string;
  release_id: string;
  study_id: string;
  participant: string;
  outbox_id: number | null;
}
