/**
 * From a proved account to a Principal: the roles the ledger gives an account (read from the
 * indexer's mirror tables), the login that turns a SIWE signature into a session token for one of
 * them, and the per-request Principal built from a session and its declared purpose of use.
 *
 * Decisions:
 * - Any account may sign in as a patient, registered on chain or not. A patient principal reaches
 *   only its own record, so this grants nothing beyond what the signature proves, and lets a
 *   newcomer sign in before registering.
 * - Patients act under PATRQT only: the other HL7 purposes (TREAT, ETREAT, HRESCH, ...) are
 *   institutional and are declared by practitioners or nodes; a patient declaring one is refused.
 * - Practitioners of a deactivated organization, or deactivated practitioners, hold no role.
 */
import type { Kysely } from "kysely";
import { hexToString, isAddress, type Hex } from "viem";
import { PRACTITIONER_ROLES, PURPOSES, type PractitionerRole, type Purpose } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import type { Schema } from "../store/schema.js";
import { defaultPurpose, type Principal, type PrincipalKind } from "../model/principal.js";
import {
  issueSessionToken,
  verifySessionToken,
  type Secp256k1Jwk,
  type SessionClaims,
  type SessionKind,
} from "./sessionToken.js";
import type { SiweChallenges, SiweVerifier } from "./siwe.js";

/** One role an account holds on the ledger. Organization ids are lowercase bytes32 hex. */
export type RoleChoice =
  | { kind: "patient" }
  | { kind: "practitioner"; organization: Hex; role: PractitionerRole }
  | { kind: "node"; organization: Hex };

/** Which role to sign in as, when the account holds several. */
export interface RoleSelector {
  kind?: SessionKind | undefined;
  organization?: Hex | undefined;
  role?: PractitionerRole | undefined;
}

const BYTES32 = /^0x[0-9a-f]{64}$/;

/**
 * Lists the roles the ledger gives an account: registered patient, practitioner of each active
 * organization with its role, node operator of an organization. Reads the indexer's mirror
 * tables, where addresses are stored lowercase.
 * @param db - The node database.
 * @param account - Any-case 0x address.
 * @returns Roles in a stable order: patient, practitioners, nodes.
 */
export async function resolveRoles(db: Kysely<Schema>, account: string): Promise<RoleChoice[]> {
  if (!isAddress(account, { strict: false })) throw new BaseError("invalid", "account is not an address");
  const lower = account.toLowerCase();
  const [patient, practitioners, nodes] = await Promise.all([
    db.selectFrom("patients").select("account").where("account", "=", lower).executeTakeFirst(),
    db
      .selectFrom("practitioners as p")
      .innerJoin("organizations as o", "o.id", "p.org_id")
      .select(["p.org_id", "p.role"])
      .where("p.account", "=", lower)
      .where("p.active", "=", 1)
      .where("o.active", "=", 1)
      .orderBy("p.org_id")
      .orderBy("p.role")
      .execute(),
    db
      .selectFrom("organizations")
      .select("id")
      .where("node_address", "=", lower)
      .where("active", "=", 1)
      .orderBy("id")
      .execute(),
  ]);
  const roles: RoleChoice[] = [];
  if (patient) roles.push({ kind: "patient" });
  for (const row of practitioners) {
    const organization = orgId(row.org_id);
    const role = roleName(row.role);
    if (organization && role) roles.push({ kind: "practitioner", organization, role });
  }
  for (const row of nodes) {
    const organization = orgId(row.id);
    if (organization) roles.push({ kind: "node", organization });
  }
  return roles;
}

export interface SessionRequest {
  /** The value of the request's purpose-of-use header, if any. */
  purpose?: string | undefined;
  requestId: string;
}

/**
 * Parses a declared purpose of use for a kind of principal, defaulting when none is declared.
 * @param kind - Who declares it.
 * @param value - The raw header value, or undefined.
 * @see http://terminology.hl7.org/CodeSystem/v3-ActReason
 */
export function parsePurpose(kind: PrincipalKind, value: string | undefined): Purpose {
  const trimmed = value?.trim();
  if (trimmed === undefined || trimmed === "") return defaultPurpose(kind);
  if (!(PURPOSES as readonly string[]).includes(trimmed)) {
    const shown = /^[A-Za-z0-9_-]{1,32}$/.test(trimmed) ? ` '${trimmed}'` : "";
    throw new BaseError("invalid", `unknown purpose of use${shown}`, {
      details: `expected one of ${PURPOSES.join(", ")}`,
    });
  }
  const purpose = trimmed as Purpose;
  if (kind === "patient" && purpose !== "PATRQT") {
    throw new BaseError("forbidden", `purpose of use '${purpose}' is not available to patients`, {
      details: "patients act on their own record under PATRQT",
    });
  }
  return purpose;
}

/**
 * The Principal of one request made with a verified session token.
 * @param claims - From `verifySessionToken`.
 * @param request - The declared purpose of use (header value) and the request id.
 */
export function principalFromSession(claims: SessionClaims, request: SessionRequest): Principal {
  // `sub` is checksummed already (verifySessionToken): no second EIP-55 hash per request.
  const principal: { -readonly [K in keyof Principal]: Principal[K] } = {
    account: claims.sub,
    kind: claims.kind,
    purpose: parsePurpose(claims.kind, request.purpose),
    authenticatedBy: "siwe-session",
    requestId: request.requestId,
  };
  if (claims.organization !== undefined) principal.organization = claims.organization;
  if (claims.role !== undefined) principal.role = claims.role;
  return principal;
}

/**
 * Picks the role to sign in as. Without a selector: the only role held, or patient when none is
 * held; several roles need a selector. `kind: "patient"` is always allowed.
 * @param roles - From `resolveRoles`.
 * @param selector - What the caller asked for.
 */
export function chooseRole(roles: readonly RoleChoice[], selector: RoleSelector = {}): RoleChoice {
  const { kind, organization, role } = selector;
  if (kind === "patient") {
    if (organization !== undefined || role !== undefined) {
      throw new BaseError("invalid", "a patient session takes no organization or role");
    }
    return { kind: "patient" };
  }
  const wanted = organization?.toLowerCase();
  const candidates =
    kind === undefined && wanted === undefined && role === undefined
      ? roles
      : roles.filter(
          (r) =>
            r.kind !== "patient" &&
            (kind === undefined || r.kind === kind) &&
            (wanted === undefined || r.organization === wanted) &&
            (role === undefined || (r.kind === "practitioner" && r.role === role)),
        );
  if (candidates.length === 1 && candidates[0]) return candidates[0];
  if (candidates.length === 0) {
    if (roles === candidates) return { kind: "patient" };
    throw new BaseError("forbidden", "account holds no such role");
  }
  throw new BaseError("invalid", "account holds several roles: choose one", {
    details: JSON.stringify(candidates),
  });
}

export interface LoginInput {
  challenges: SiweChallenges;
  db: Kysely<Schema>;
  message: string;
  signature: Hex;
  /** The node's private key (0x hex) or private JWK, which signs the session token. */
  nodeKey: Hex | Secp256k1Jwk;
  as?: RoleSelector | undefined;
  /** Checks the signature on chain, so smart-contract wallets can sign in. */
  publicClient?: SiweVerifier | undefined;
  ttlSeconds?: number | undefined;
  now?: Date | undefined;
}

export interface LoginResult {
  token: string;
  claims: SessionClaims;
  expiresAt: Date;
  /** The role this session acts in. */
  session: RoleChoice;
  /** Every role the account holds, for a role switcher (a new login). */
  roles: RoleChoice[];
}

/**
 * Signs an account in: verifies the SIWE signature (spending its nonce), resolves the account's
 * roles, picks one, and issues a session token for it.
 * @param input - The signed challenge, the node's key and database, and the role wanted.
 * @see https://eips.ethereum.org/EIPS/eip-4361
 */
export async function login(input: LoginInput): Promise<LoginResult> {
  const { address } = await input.challenges.verify({
    message: input.message,
    signature: input.signature,
    publicClient: input.publicClient,
  });
  const roles = await resolveRoles(input.db, address);
  const session = chooseRole(roles, input.as);
  const token = issueSessionToken(
    input.nodeKey,
    {
      sub: address,
      kind: session.kind,
      ttlSeconds: input.ttlSeconds,
      ...(session.kind === "patient" ? {} : { organization: session.organization }),
      ...(session.kind === "practitioner" ? { role: session.role } : {}),
    },
    input.now,
  );
  const claims = verifySessionToken(input.nodeKey, token, input.now);
  return { token, claims, expiresAt: new Date(claims.exp * 1000), session, roles };
}

function orgId(value: string): Hex | undefined {
  const lower = value.toLowerCase();
  return BYTES32.test(lower) ? (lower as Hex) : undefined;
}

/** Roles are mirrored as names; bytes32 of the name (as on chain) is accepted too. */
function roleName(value: string): PractitionerRole | undefined {
  let name = value;
  if (BYTES32.test(value.toLowerCase())) {
    try {
      name = hexToString(value as Hex, { size: 32 });
    } catch {
      return undefined;
    }
  }
  return (PRACTITIONER_ROLES as readonly string[]).includes(name) ? (name as PractitionerRole) : undefined;
}
