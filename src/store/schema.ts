import type { Generated } from "kysely";

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
  nonce: string;
  granted_block: number;
  revoked_at: number | null;
}

export interface Schema {
  meta: MetaTable;
  outbox: OutboxTable;
  organizations: OrganizationTable;
  practitioners: PractitionerTable;
  patients: PatientTable;
  consent_grants: ConsentGrantTable;
}
