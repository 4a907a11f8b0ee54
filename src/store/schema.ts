import type { Generated } from "kysely";
import type {
  PassportIssuerKeyTable,
  PassportCardTable,
  CdsClientTable,
  CdsJwtIdTable,
  CdsFeedbackTable,
  SmartClientTable,
  SmartCodeTable,
  SmartTokenTable,
  ResearchStudyTable,
  ResearchEnrollmentTable,
  ResearchReleaseTable,
  ResearchContributionTable,
} from "./roomSchema.js";

/** Table types of the node database. Each room's migration adds its tables here. */
export interface MetaTable {
  key: string;
  value: string;
}

export type OutboxStatus = "pending" | "signed" | "confirmed" | "failed";

export interface OutboxTable {
  id: Generated<number>;
  idem_key: string;
  contract: string;
  function_name: string;
  /** JSON with bigints as decimal strings tagged `{"$bigint":"..."}`. */
  args: string;
  status: OutboxStatus;
  sender_nonce: number | null;
  tx_hash: string | null;
  raw_tx: string | null;
  block_number: number | null;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface OrganizationTable {
  id: string;
  name: string;
  kind: string;
  endpoint: string;
  node_address: string;
  active: number;
}

export interface PractitionerTable {
  account: string;
  org_id: string;
  role: string;
  active: number;
}

export interface PatientTable {
  account: string;
  registered_block: number;
}

export interface ConsentGrantTable {
  grant_id: string;
  patient: string;
  grantee_kind: string;
  grantee: string;
  role: string;
  categories: number;
  purposes: number;
  actions: number;
  not_before: number;
  not_after: number;
  salt: string;
  /** The patient's EIP-712 signature of the terms, passed on with them. */
  signature: string;
  /** 1 when this node accepted the terms for relaying (it then passes them on). */
  relayed_here: Generated<number>;
  /** Unix seconds at which the ledger recorded the commitment; null until this node has seen it. */
  confirmed_at: number | null;
  revoked_at: number | null;
  /** `state_versions.version` of "grants" at the row's last change (insert or revoke). */
  changed_seq: Generated<number>;
}

export interface PatientKeyTable {
  patient: string;
  /** version || iv || tag || ciphertext from the KeyProvider; NULL once erased. */
  wrapped_key: Uint8Array | null;
  /** `KeyProvider.id` that wrapped the key. */
  provider_id: string;
  created_at: number;
  erased_at: number | null;
}

export interface SiweChallengeTable {
  /** The challenge's single-use nonce (128 bits, hex). */
  nonce: string;
  /** The account that must sign, checksummed. */
  address: string;
  /** Unix milliseconds. */
  expires_at: number;
}

/** The deferred patient index of the audit log: one row per entry about a patient, written in bulk. */
export interface AuditPatientRunTable {
  /** `floor(idx / AUDIT_PATIENT_RUN)` (src/store/migrations/010_audit_patient_runs.ts). */
  run: number;
  /** Same key as `audit_entries.patient`. */
  patient: string;
  idx: number;
}

/**
 * The audit log's persisted patient map: the patient had `entry_count` entries in the log up to
 * and including entry `last_idx` (src/audit/patientMap.ts, src/store/auditRows.ts).
 */
export interface AuditPatientMapTable {
  /** Same key as `audit_entries.patient`. */
  patient: string;
  last_idx: number;
  entry_count: number;
}

/**
 * The opening of a version 2 audit entry's commitment (src/audit/auditEntry.ts): deleted when the
 * entry's patient erases their record; the entry keeps only the commitment.
 */
export interface AuditOpeningTable {
  /** The entry's index. */
  idx: number;
  /** 128-bit salt, lowercase hex. */
  salt: string;
  /** `openingText` of the facts: RFC 8785 of `{categories?, reason?}`. */
  facts: string;
}

export interface AuditEntryTable {
  /** 0-based leaf index in the Merkle log. */
  idx: number;
  /** Canonical JSON (RFC 8785) of the entry: the exact bytes hashed into the leaf. */
  entry: string;
  leaf_hash: Uint8Array;
  /** Patient address (lowercase) or pseudonymous id, for a patient's access log. */
  patient: string | null;
  created_at: number;
  /**
   * Hashes of the complete subtrees this entry's append finished, levels 1, 2, ... in order (32
   * bytes each; leaf `idx` finishes as many levels as `idx + 1` has trailing zero bits), or null.
   */
  subtrees: Uint8Array | null;
}

export type TreeHeadStatus = "signed" | "anchored";

export interface AuditTreeHeadTable {
  tree_size: number;
  root: Uint8Array;
  /** Unix seconds, as signed. */
  timestamp: number;
  /** The node account that signed. */
  node: string;
  /** EIP-712 signature (hex). */
  signature: string;
  /** Root of the patient map at this size (src/audit/patientMap.ts); null for heads signed before it. */
  map_root: Uint8Array | null;
  status: TreeHeadStatus;
  anchored_block: number | null;
  anchored_tx: string | null;
  created_at: number;
}

export interface ResourceVersionTable {
  type: string;
  id: string;
  version_id: number;
  patient_id: string | null;
  categories: number;
  author_org: string;
  /** Account of whoever wrote this version. */
  author: string;
  /** Unix milliseconds. */
  last_updated: number;
  deleted: number;
  content_hash: string;
  /** Envelope-encrypted canonical JSON (src/crypto/envelope.ts); NULL for a delete marker. */
  blob: Uint8Array | null;
}

export interface ResourceTable {
  type: string;
  id: string;
  version_id: number;
  patient_id: string | null;
  categories: number;
  author_org: string;
  last_updated: number;
  deleted: number;
  /** The resource's clinical date (ms) for `_sort=date`; NULL when it has none. */
  sort_date: number | null;
}

export interface SearchTokenTable {
  type: string;
  id: string;
  param: string;
  /** HMAC of the token value (a blind index: codes are PHI when tied to a patient). */
  token: string | null;
  start_ms: number | null;
  end_ms: number | null;
}

export interface PatientLinkTable {
  patient_id: string;
  account: string;
  /** `state_versions.version` of "patient-links" at the row's last change. */
  changed_seq: Generated<number>;
}

/** One version per kind of cached shared state, bumped in the transaction of every change. */
export interface StateVersionTable {
  name: string;
  version: number;
}

export interface PatientSettingsTable {
  account: string;
  break_glass_allowed: number;
  notify: string;
  updated_at: number;
}

export interface BreakGlassSessionTable {
  id: string;
  practitioner: string;
  organization: string | null;
  patient: string;
  reason: string;
  started_at: number;
  expires_at: number;
}

export interface NotificationTable {
  id: string;
  account: string;
  kind: string;
  payload: string;
  created_at: number;
  read_at: number | null;
}

/** Mirror of RecordLocator: which organizations hold data for a patient's account (no categories). */
export interface RecordLocatorTable {
  patient: string;
  /** bytes32 organization id (lowercase hex). */
  organization: string;
  /** Unix seconds (a UTC day) of the holder's last update. */
  updated_at: number;
  block_number: number;
}

/** Patients (lowercase accounts) who opted this node's organization out of discovery. */
export interface DiscoveryOptOutTable {
  patient: string;
  /** Unix ms of the opt-out. */
  created_at: number;
}

/** Seen node-request signatures and access-request nonces, kept until they expire (unix ms). */
export interface FederationReplayTable {
  kind: string;
  key: string;
  expires_at: number;
}

/** A subscription to a patient's new data (src/federation/subscriptions.ts). */
export interface SubscriptionTable {
  id: string;
  /** Subscriber account (lowercase) and the principal facts its decisions are made with. */
  subscriber: string;
  subscriber_kind: string;
  organization: string | null;
  role: string | null;
  purpose: string;
  /** Patient account (lowercase). */
  patient: string;
  /** Category bitmask subscribed to. */
  categories: number;
  channel: string;
  endpoint: string | null;
  status: string;
  end_reason: string | null;
  created_at: number;
  ended_at: number | null;
}

/** One stored event of a subscription, numbered for Server-Sent Events `Last-Event-ID` resume. */
export interface SubscriptionEventTable {
  seq: Generated<number>;
  subscription_id: string;
  /** "notification" | "ended". */
  kind: string;
  /** `Type/id/_history/v` of the new version (notifications). */
  reference: string | null;
  categories: number;
  /** JSON of extra fields (the end reason). */
  detail: string | null;
  created_at: number;
}

/** A durable outgoing HTTP push (REST hook, referral notice), retried with backoff. */
export interface PushDeliveryTable {
  id: Generated<number>;
  idem_key: string;
  kind: string;
  url: string;
  body: string;
  /** "pending" | "delivered" | "failed". */
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** A referral of a patient from one organization to another (codes only, no free text). */
export interface ReferralTable {
  id: string;
  /** "outbound" (made here) | "inbound" (notice received from the referring node). */
  direction: string;
  patient: string;
  from_org: string;
  to_org: string;
  requester: string;
  categories: number;
  reason_code: string | null;
  /** "requested" | "accepted". */
  status: string;
  grant_id: string | null;
  created_at: number;
  updated_at: number;
}

/** A practitioner's request for a patient's grant; `terms` sealed under the patient's key. */
export interface ConsentRequestTable {
  id: string;
  /** Lowercase accounts. */
  patient: string;
  requester: string;
  /** bytes32 organization id and role name of the requester when they asked. */
  organization: string;
  role: string;
  terms: string;
  /** "pending" | "granted" | "declined" | "withdrawn". */
  status: string;
  grant_id: string | null;
  created_at: number;
  answered_at: number | null;
}

export interface Schema {
  meta: MetaTable;
  outbox: OutboxTable;
  organizations: OrganizationTable;
  practitioners: PractitionerTable;
  patients: PatientTable;
  consent_grants: ConsentGrantTable;
  patient_keys: PatientKeyTable;
  audit_entries: AuditEntryTable;
  audit_openings: AuditOpeningTable;
  audit_patient_runs: AuditPatientRunTable;
  audit_patient_map: AuditPatientMapTable;
  siwe_challenges: SiweChallengeTable;
  smart_clients: SmartClientTable;
  cds_clients: CdsClientTable;
  cds_jwt_ids: CdsJwtIdTable;
  cds_feedback: CdsFeedbackTable;
  smart_codes: SmartCodeTable;
  smart_tokens: SmartTokenTable;
  audit_tree_heads: AuditTreeHeadTable;
  resource_versions: ResourceVersionTable;
  resources: ResourceTable;
  search_tokens: SearchTokenTable;
  patient_links: PatientLinkTable;
  state_versions: StateVersionTable;
  patient_settings: PatientSettingsTable;
  break_glass_sessions: BreakGlassSessionTable;
  notifications: NotificationTable;
  record_locators: RecordLocatorTable;
  discovery_opt_outs: DiscoveryOptOutTable;
  federation_replay: FederationReplayTable;
  subscriptions: SubscriptionTable;
  subscription_events: SubscriptionEventTable;
  push_deliveries: PushDeliveryTable;
  referrals: ReferralTable;
  consent_requests: ConsentRequestTable;
  passport_issuer_keys: PassportIssuerKeyTable;
  passport_cards: PassportCardTable;
  research_studies: ResearchStudyTable;
  research_enrollments: ResearchEnrollmentTable;
  research_releases: ResearchReleaseTable;
  research_contributions: ResearchContributionTable;
}
