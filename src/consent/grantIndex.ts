import type { Address, Hex } from "viem";
import { GrantArena, LINE, readAddress, WORDS } from "./grantArena.js";
import { KNOWN_CATEGORY_MASK, type GranteeKind } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";

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

/**
 * How far a grant got before it failed, in the order `decide()` ranks denials: a later stage tells
 * the caller more (a revoked labs grant explains a labs denial better than an unrelated imaging grant).
 */
export const Stage = {
  noGrant: 0,
  category: 1,
  sensitive: 2,
  purpose: 3,
  action: 4,
  revoked: 5,
  notYetValid: 6,
  expired: 7,
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/** What a request needs from a grant, as {@link GrantIndex.match} reads it. */
export interface GrantQuery {
  /** Patient account, `0x` and 40 hex digits in either case. */
  patient: string;
  /** Practitioner account, `0x` and 40 hex digits in either case. */
  account: string;
  /** Organization id (bytes32) the principal acts for, lowercase. */
  organization: string | undefined;
  /** bytes32 of the principal's role, lowercase; looked at only with an organization. */
  role: string | undefined;
  categoryBit: number;
  sensitive: boolean;
  purposeBit: number;
  actionBit: number;
  /** Unix seconds. */
  time: number;
}

// A grant's decision fields are one 64-byte line of the arena (src/consent/grantArena.ts).
const KIND = 0; // grantee kind code, plus REVOKED
const CATEGORIES = 1;
const PURPOSES = 2;
const ACTIONS = 3;
const GRANTEE = 4; // words 4..8: practitioner account; word 4 alone: organization or role id
const ORDINAL = 9; // position of the Grant in #grants
const NOT_BEFORE = 5; // float64 index within the line (byte 40)
const NOT_AFTER = 6; // float64 index within the line (byte 48)
const UNMATCHABLE = 0; // a practitioner grantee whose last 40 characters are not hex
const PRACTITIONER = 1;
const ORGANIZATION = 2;
const ROLE = 3;
const KIND_MASK = 3;
const REVOKED = 4;
const KIND_CODE: Record<GranteeKind, number> = {
  practitioner: PRACTITIONER,
  organization: ORGANIZATION,
  role: ROLE,
};

const UNKNOWN_CATEGORY_BITS = ~KNOWN_CATEGORY_MASK;

/**
 * The in-memory grant index behind `decide()`. The decision's hot path is flat memory: each patient
 * has a 16-byte slot in an open-addressing table (the address's seeded hash; no string is chased)
 * that points at a contiguous block in one arena: a header line with the exact address, then the
 * 64-byte grant lines, so a decision touches one slot and one block whatever the number of grants. Grantees in a line are exact: the 20-byte
 * practitioner account, or an id interned for the organization (or organization and role), so a
 * look-alike address can never stand for another. The Grant objects stay for the cold paths: by id,
 * by patient and by grantee ("shared with me"). Fed by ledger events; addresses are held lowercase.
 */
export class GrantIndex {
  readonly #byId = new Map<string, number>();
  readonly #grants: Grant[] = [];
  /** Grant ids by ordinal, apart from the Grants: a permit reads one pointer, not a Grant. */
  readonly #ids: Hex[] = [];
  readonly #byGrantee = new Map<string, Grant[]>();
  /** Grants whose patient is not a 20-byte address: listed by patient, never decided on. */
  readonly #unaddressed = new Map<string, Grant[]>();
  readonly #organizations = new Map<string, { id: number; roles: Map<string, number> }>();
  #granteeIds = 0;
  readonly #arena = new GrantArena();

  /** Number of grants held (revoked ones included). */
  get size(): number {
    return this.#byId.size;
  }

  /** Arena lines: allocated, in use (holes included), abandoned. For tests and benchmarks. */
  get arenaLines(): { capacity: number; end: number; holes: number } {
    return this.#arena.lines;
  }

  /**
   * Adds a grant. Idempotent on `grantId` (the indexer may deliver an event twice): a second add of
   * the same id only carries over a revocation the first copy lacked.
   * @param grant - the grant, as signed and recorded on chain
   * @returns true when the grant was new
   */
  add(grant: Grant): boolean {
    const id = grant.grantId.toLowerCase();
    if (this.#byId.has(id)) {
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
    const key = granteeKey(stored.granteeKind, stored.grantee, stored.role);
    const peers = this.#byGrantee.get(key);
    // Share one copy of the grantee strings among that grantee's grants.
    if (peers?.[0]?.grantee === stored.grantee) stored.grantee = peers[0].grantee;
    if (peers?.[0]?.role === stored.role) stored.role = peers[0].role;
    if (peers) peers.push(stored);
    else this.#byGrantee.set(key, [stored]);
    const ordinal = this.#grants.length;
    this.#grants.push(stored);
    this.#ids.push(stored.grantId);
    this.#byId.set(id, ordinal);
    if (!readAddress(stored.patient, WORDS, 0)) {
      const list = this.#unaddressed.get(stored.patient);
      if (list) list.push(stored);
      else this.#unaddressed.set(stored.patient, [stored]);
      return true;
    }
    this.#place(stored, ordinal);
    return true;
  }

  /**
   * Marks a grant revoked at `at` (unix seconds). A second revocation keeps the earlier time.
   * @returns false when the grant is unknown
   */
  revoke(grantId: Hex, at: number): boolean {
    const ordinal = this.#byId.get(grantId.toLowerCase());
    if (ordinal === undefined) return false;
    const grant = this.#grants[ordinal]!;
    if (grant.revokedAt === undefined || at < grant.revokedAt) grant.revokedAt = at;
    if (!readAddress(grant.patient, WORDS, 0)) return true;
    const arena = this.#arena;
    const slot = arena.find();
    if (slot < 0) return true;
    const words = arena.words;
    for (let w = arena.start(slot), end = arena.end(slot); w < end; w += LINE) {
      if (words[w + ORDINAL] === ordinal) words[w + KIND]! |= REVOKED;
    }
    return true;
  }

  /** The grant with this id, if held. */
  get(grantId: Hex): Readonly<Grant> | undefined {
    const ordinal = this.#byId.get(grantId.toLowerCase());
    return ordinal === undefined ? undefined : this.#grants[ordinal];
  }

  /** Every grant a patient has signed, revoked ones included, in the order they were added. */
  forPatient(patient: Address): Readonly<Grant>[] {
    if (!readAddress(patient, WORDS, 0)) return this.#unaddressed.get(patient.toLowerCase())?.slice() ?? [];
    const arena = this.#arena;
    const slot = arena.find();
    if (slot < 0) return [];
    const out: Grant[] = [];
    const words = arena.words;
    for (let w = arena.start(slot), end = arena.end(slot); w < end; w += LINE) {
      out.push(this.#grants[words[w + ORDINAL]!]!);
    }
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

  /**
   * The decision's hot path: among the patient's grants to the practitioner account, then to the
   * organization, then to the role within it, the first that permits (its id), or else the latest
   * {@link Stage} any of them reached. One pass over the patient's block.
   * @param q - the request, reduced to bits and lowercase strings by `decide()`
   */
  match(q: GrantQuery): Hex | Stage {
    if (!readAddress(q.patient, WORDS, 0)) return Stage.noGrant;
    const arena = this.#arena;
    const slot = arena.find();
    if (slot < 0) return Stage.noGrant;
    const practitioner = readAddress(q.account, WORDS, 5);
    const a0 = WORDS[5]!;
    const a1 = WORDS[6]!;
    const a2 = WORDS[7]!;
    const a3 = WORDS[8]!;
    const a4 = WORDS[9]!;
    const org = q.organization === undefined ? undefined : this.#organizations.get(q.organization);
    const orgId = org === undefined ? -1 : org.id;
    const roleId = org === undefined || q.role === undefined ? -1 : (org.roles.get(q.role) ?? -1);
    const { categoryBit, sensitive, purposeBit, actionBit, time } = q;
    const words = arena.words;
    const numbers = arena.numbers;
    let byOrg = -1;
    let byRole = -1;
    let best: Stage = Stage.noGrant;
    for (let w = arena.start(slot), end = arena.end(slot); w < end; w += LINE) {
      const kind = words[w + KIND]! & KIND_MASK;
      const grantee = words[w + GRANTEE]!;
      if (kind === PRACTITIONER) {
        if (!practitioner || grantee !== a0 || words[w + 5] !== a1 || words[w + 6] !== a2) continue;
        if (words[w + 7] !== a3 || words[w + 8] !== a4) continue;
      } else if (kind === ORGANIZATION) {
        if (grantee !== orgId || byOrg >= 0) continue;
      } else if (kind !== ROLE || grantee !== roleId || byOrg >= 0 || byRole >= 0) continue;
      const categories = words[w + CATEGORIES]!;
      let stage: Stage;
      if ((categories & categoryBit) === 0) stage = sensitive ? Stage.sensitive : Stage.category;
      // A mask with undefined bits set looks like a careless "all": it never stands for a sensitive category.
      else if (sensitive && (categories & UNKNOWN_CATEGORY_BITS) !== 0) stage = Stage.sensitive;
      else if ((words[w + PURPOSES]! & purposeBit) === 0) stage = Stage.purpose;
      else if ((words[w + ACTIONS]! & actionBit) === 0) stage = Stage.action;
      else if ((words[w + KIND]! & REVOKED) !== 0) stage = Stage.revoked;
      else if (time < numbers[(w >> 1) + NOT_BEFORE]!) stage = Stage.notYetValid;
      else if (time >= numbers[(w >> 1) + NOT_AFTER]!) stage = Stage.expired;
      else if (kind === PRACTITIONER) return this.#ids[words[w + ORDINAL]!]!;
      else {
        if (kind === ORGANIZATION) byOrg = words[w + ORDINAL]!;
        else byRole = words[w + ORDINAL]!;
        continue;
      }
      if (stage > best) best = stage;
    }
    const permit = byOrg >= 0 ? byOrg : byRole;
    return permit >= 0 ? this.#ids[permit]! : best;
  }

  /** Writes the grant's line at the end of its patient's block (WORDS 0..4 hold the patient). */
  #place(grant: Grant, ordinal: number): void {
    const arena = this.#arena;
    const slot = arena.find();
    if (slot >= 0 && arena.end(slot) > arena.start(slot)) {
      // Share the patient string too: the block's first grant has it.
      const first = this.#grants[arena.words[arena.start(slot) + ORDINAL]!]!;
      if (first.patient === grant.patient) grant.patient = first.patient;
    }
    const w = arena.append();
    const words = arena.words;
    words[w + KIND] =
      (KIND_CODE[grant.granteeKind] ?? UNMATCHABLE) | (grant.revokedAt === undefined ? 0 : REVOKED);
    if (grant.granteeKind === "practitioner") {
      if (!readAddress(`0x${grant.grantee.slice(-40)}`, words, w + GRANTEE)) words[w + KIND] = UNMATCHABLE;
    } else if (grant.granteeKind === "organization" || grant.granteeKind === "role") {
      words[w + GRANTEE] = this.#granteeId(grant);
    }
    words[w + CATEGORIES] = grant.categories;
    words[w + PURPOSES] = grant.purposes;
    words[w + ACTIONS] = grant.actions;
    words[w + ORDINAL] = ordinal;
    arena.numbers[(w >> 1) + NOT_BEFORE] = Number(grant.notBefore);
    arena.numbers[(w >> 1) + NOT_AFTER] = Number(grant.notAfter);
  }

  /** The interned id of an organization grantee, or of an organization and role. */
  #granteeId(grant: Grant): number {
    let org = this.#organizations.get(grant.grantee);
    if (!org) {
      org = { id: this.#granteeIds++, roles: new Map() };
      this.#organizations.set(grant.grantee, org);
    }
    if (grant.granteeKind === "organization") return org.id;
    let id = org.roles.get(grant.role);
    if (id === undefined) {
      id = this.#granteeIds++;
      org.roles.set(grant.role, id);
    }
    return id;
  }
}
