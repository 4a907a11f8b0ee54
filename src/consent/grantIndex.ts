import type { Address, Hex } from "viem";
import type { Grant, GranteeKind } from "./model.js";

const ZERO_BYTES32 = `0x${"0".repeat(64)}` as const;

/**
 * The key of a grantee in the reverse ("shared with me") index: kind plus grantee (plus role for
 * role grants), lowercase. A practitioner is keyed by the 20-byte account, padded or not.
 * @param kind - grantee kind
 * @param grantee - bytes32 grantee (practitioner account left-padded, or organization id), or a 20-byte account for practitioners
 * @param role - bytes32 role for `role` grants
 * @returns the key used by {@link GrantIndex}
 */
export function granteeKey(kind: GranteeKind, grantee: Hex, role?: Hex): string {
  const g = grantee.toLowerCase();
  switch (kind) {
    case "practitioner":
      return `p:${g.slice(-40)}`;
    case "organization":
      return `o:${g}`;
    case "role":
      return `r:${g}:${(role ?? ZERO_BYTES32).toLowerCase()}`;
  }
}

const EMPTY: readonly Grant[] = Object.freeze([]);

/** One patient's grants, by grantee: practitioner account (20-byte, lowercase), organization id, organization then role. */
interface PatientGrants {
  practitioner: Map<string, Grant[]>;
  organization: Map<string, Grant[]>;
  role: Map<string, Map<string, Grant[]>>;
}

/**
 * The in-memory grant index behind `decide()`: grants by patient then by grantee, so one decision
 * only looks at the grants of one patient-grantee pair, plus a reverse index by grantee ("shared
 * with me") and an index by grant id. Fed by ledger events; addresses are held lowercase.
 * Lookups use the request's own strings as keys (no key is built per decision).
 */
export class GrantIndex {
  readonly #byId = new Map<string, Grant>();
  readonly #byPatient = new Map<string, PatientGrants>();
  readonly #byGrantee = new Map<string, Grant[]>();

  /** Number of grants held (revoked ones included). */
  get size(): number {
    return this.#byId.size;
  }

  /**
   * Adds a grant. Idempotent on `grantId` (the indexer may deliver an event twice): a second add of
   * the same id only carries over a revocation the first copy lacked.
   * @param grant - the grant, as signed and recorded on chain
   * @returns true when the grant was new
   */
  add(grant: Grant): boolean {
    const id = grant.grantId.toLowerCase();
    const existing = this.#byId.get(id);
    if (existing) {
      if (grant.revokedAt !== undefined) this.revoke(id as Hex, grant.revokedAt);
      return false;
    }
    const stored: Grant = {
      ...grant,
      grantId: id as Hex,
      patient: grant.patient.toLowerCase() as Address,
      grantee: grant.grantee.toLowerCase() as Hex,
      role: grant.role.toLowerCase() as Hex,
    };
    this.#byId.set(id, stored);
    let mine = this.#byPatient.get(stored.patient);
    if (!mine) {
      mine = { practitioner: new Map(), organization: new Map(), role: new Map() };
      this.#byPatient.set(stored.patient, mine);
    }
    switch (stored.granteeKind) {
      case "practitioner":
        push(mine.practitioner, `0x${stored.grantee.slice(-40)}`, stored);
        break;
      case "organization":
        push(mine.organization, stored.grantee, stored);
        break;
      case "role": {
        let roles = mine.role.get(stored.grantee);
        if (!roles) {
          roles = new Map();
          mine.role.set(stored.grantee, roles);
        }
        push(roles, stored.role, stored);
        break;
      }
    }
    push(this.#byGrantee, granteeKey(stored.granteeKind, stored.grantee, stored.role), stored);
    return true;
  }

  /**
   * Marks a grant revoked at `at` (unix seconds). A second revocation keeps the earlier time.
   * @returns false when the grant is unknown
   */
  revoke(grantId: Hex, at: number): boolean {
    const grant = this.#byId.get(grantId.toLowerCase());
    if (!grant) return false;
    if (grant.revokedAt === undefined || at < grant.revokedAt) grant.revokedAt = at;
    return true;
  }

  /** The grant with this id, if held. */
  get(grantId: Hex): Readonly<Grant> | undefined {
    return this.#byId.get(grantId.toLowerCase());
  }

  /** Every grant a patient has signed, revoked ones included. */
  forPatient(patient: Address): Readonly<Grant>[] {
    const mine = this.#byPatient.get(patient.toLowerCase());
    if (!mine) return [];
    const out: Grant[] = [];
    for (const list of mine.practitioner.values()) out.push(...list);
    for (const list of mine.organization.values()) out.push(...list);
    for (const roles of mine.role.values()) for (const list of roles.values()) out.push(...list);
    return out;
  }

  /**
   * Every grant naming this grantee ("shared with me"), across patients.
   * @param kind - grantee kind
   * @param grantee - bytes32 grantee (or a 20-byte account for practitioners)
   * @param role - bytes32 role for `role` grants
   */
  forGrantee(kind: GranteeKind, grantee: Hex, role?: Hex): readonly Readonly<Grant>[] {
    return this.#byGrantee.get(granteeKey(kind, grantee, role))?.slice() ?? [];
  }

  /** A patient's grants to a practitioner account; the decision's hot path. All arguments lowercase. */
  forPractitioner(patient: string, account: string): readonly Readonly<Grant>[] {
    return this.#byPatient.get(patient)?.practitioner.get(account) ?? EMPTY;
  }

  /** A patient's grants to an organization (bytes32 id). All arguments lowercase. */
  forOrganization(patient: string, organization: string): readonly Readonly<Grant>[] {
    return this.#byPatient.get(patient)?.organization.get(organization) ?? EMPTY;
  }

  /** A patient's grants to a role (bytes32) within an organization. All arguments lowercase. */
  forRole(patient: string, organization: string, role: string): readonly Readonly<Grant>[] {
    return this.#byPatient.get(patient)?.role.get(organization)?.get(role) ?? EMPTY;
  }
}

function push(map: Map<string, Grant[]>, key: string, grant: Grant): void {
  const list = map.get(key);
  if (list) list.push(grant);
  else map.set(key, [grant]);
}
