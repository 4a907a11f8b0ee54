/**
 * Node-to-node authentication for the consortium. Two signatures travel with every federated
 * request: the requesting NODE signs the HTTP request (EIP-191 over method, path, time and body
 * hash), and the PRACTITIONER on whose behalf it asks signs an EIP-712 AccessRequest naming the
 * patient, categories and purpose. The serving node checks both against its mirror of
 * ParticipantRegistry and refuses replays.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import {
  getAddress,
  isAddressEqual,
  recoverMessageAddress,
  recoverTypedDataAddress,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { z } from "zod";
import {
  KNOWN_CATEGORY_MASK,
  PRACTITIONER_ROLES,
  PURPOSES,
  purposesOf,
  type PractitionerRole,
  type Purpose,
} from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import {
  organizationByNode,
  practitionerRoles,
  type MirroredOrganization,
} from "../chain/participantMirror.js";
import type { Principal } from "../model/principal.js";
import type { Schema } from "../store/schema.js";
import { consumeOnce } from "./replayGuard.js";

/** EIP-712 domain of federation access requests (no verifying contract; bound to the chain id). */
export const FEDERATION_DOMAIN = { name: "carechain Federation", version: "1" } as const;

/** EIP-712 types the practitioner signs (https://eips.ethereum.org/EIPS/eip-712). */
export const ACCESS_REQUEST_TYPES = {
  AccessRequest: [
    { name: "patient", type: "address" },
    { name: "requester", type: "address" },
    { name: "requesterOrganization", type: "bytes32" },
    { name: "categories", type: "uint32" },
    { name: "purpose", type: "uint32" },
    { name: "expiry", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/** Header names of a node-signed request. */
export const NODE_HEADERS = {
  node: "x-carechain-node",
  timestamp: "x-carechain-timestamp",
  signature: "x-carechain-signature",
} as const;

/** How far (ms) a node request's timestamp may be from the receiver's clock. */
export const NODE_REQUEST_WINDOW_MS = 60_000;
/** Longest lifetime (s) of an access request: bounds the nonce table. */
export const MAX_ACCESS_REQUEST_TTL_S = 3600;

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`), `${bytes}-byte hex`);

/** Wire shape of an AccessRequest (JSON; `expiry` in unix seconds). */
export const accessRequestSchema = z.object({
  patient: hex(20).transform((a) => getAddress(a)),
  requester: hex(20).transform((a) => getAddress(a)),
  requesterOrganization: hex(32).transform((h) => h.toLowerCase() as Hex),
  categories: z.number().int().min(1).max(0xffffffff),
  purpose: z.number().int().min(1).max(0xffffffff),
  expiry: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  nonce: hex(32).transform((h) => h.toLowerCase() as Hex),
});
export type AccessRequest = z.infer<typeof accessRequestSchema>;

/** An AccessRequest with the practitioner's EIP-712 signature. */
export const signedAccessRequestSchema = z.object({
  accessRequest: accessRequestSchema,
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]+$/u, "hex signature")
    .transform((s) => s as Hex),
});
export type SignedAccessRequest = z.infer<typeof signedAccessRequestSchema>;

/** What a verified access request lets the serving node act on. */
export interface VerifiedAccessRequest {
  practitioner: Address;
  organization: Hex;
  role: PractitionerRole;
  purpose: Purpose;
  categories: number;
  patient: Address;
}

/** The requesting node, as the serving node's mirror knows it. */
export interface VerifiedNode {
  node: Address;
  organization: MirroredOrganization;
}

/** A fresh random bytes32 nonce for an AccessRequest. */
export function newNonce(): Hex {
  return `0x${randomBytes(32).toString("hex")}`;
}

/**
 * Signs an AccessRequest as the practitioner (EIP-712, https://eips.ethereum.org/EIPS/eip-712).
 * @param account - The practitioner's account; must equal `request.requester`.
 * @param request - The request to sign.
 * @param chainId - Chain id of the consortium ledger (binds the signature to it).
 * @returns The signature.
 */
export async function signAccessRequest(
  account: LocalAccount,
  request: AccessRequest,
  chainId: number,
): Promise<Hex> {
  if (!account.signTypedData) throw new BaseError("invalid", "account cannot sign typed data");
  return account.signTypedData({
    domain: { ...FEDERATION_DOMAIN, chainId },
    types: ACCESS_REQUEST_TYPES,
    primaryType: "AccessRequest",
    message: { ...request, expiry: BigInt(request.expiry) },
  });
}

/**
 * Verifies a practitioner's AccessRequest at the serving node: signature by `requester`, the
 * requester an active practitioner of `requesterOrganization`, that organization the one whose
 * node signed the HTTP request, one known purpose, not expired, nonce never seen (then recorded).
 * @param db - The serving node's database (mirror + replay table).
 * @param signed - The request and its signature.
 * @param options - `chainId`, the verified requesting node's `organization`, and `now` (unix ms).
 * @returns The practitioner, organization, role, purpose and categories to act on.
 */
export async function verifyAccessRequest(
  db: Kysely<Schema>,
  signed: SignedAccessRequest,
  options: { chainId: number; organization: Hex; now?: number },
): Promise<VerifiedAccessRequest> {
  const now = options.now ?? Date.now();
  const request = signed.accessRequest;
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: { ...FEDERATION_DOMAIN, chainId: options.chainId },
      types: ACCESS_REQUEST_TYPES,
      primaryType: "AccessRequest",
      message: { ...request, expiry: BigInt(request.expiry) },
      signature: signed.signature,
    });
  } catch (cause) {
    throw new BaseError("unauthenticated", "access request signature is malformed", { cause });
  }
  if (!isAddressEqual(signer, request.requester)) {
    throw new BaseError("unauthenticated", "access request is not signed by its requester");
  }
  if (request.requesterOrganization !== options.organization.toLowerCase()) {
    throw new BaseError("forbidden", "access request organization is not the requesting node's organization");
  }
  const nowS = Math.floor(now / 1000);
  if (request.expiry <= nowS) throw new BaseError("unauthenticated", "access request has expired");
  if (request.expiry > nowS + MAX_ACCESS_REQUEST_TTL_S) {
    throw new BaseError("invalid", `access request expiry is more than ${MAX_ACCESS_REQUEST_TTL_S} s ahead`);
  }
  const purposes = purposesOf(request.purpose);
  const purpose = purposes[0];
  if (purposes.length !== 1 || purpose === undefined || request.purpose >>> PURPOSES.length !== 0) {
    throw new BaseError("invalid", "access request must name exactly one known purpose");
  }
  if ((request.categories & ~KNOWN_CATEGORY_MASK) !== 0) {
    throw new BaseError("invalid", "access request names unknown categories");
  }
  const membership = (await practitionerRoles(db, request.requester)).find(
    (r) => r.orgId.toLowerCase() === request.requesterOrganization,
  );
  const role = PRACTITIONER_ROLES.find((r) => r === membership?.role);
  if (membership === undefined || role === undefined) {
    throw new BaseError(
      "forbidden",
      "requester is not an active practitioner of the requesting organization",
    );
  }
  await consumeOnce(
    db,
    "access-request",
    `${request.requester}:${request.nonce}`,
    request.expiry * 1000,
    now,
  );
  return {
    practitioner: request.requester,
    organization: request.requesterOrganization,
    role,
    purpose,
    categories: request.categories,
    patient: request.patient,
  };
}

/** The Principal a verified access request acts as on the serving node. */
export function accessRequestPrincipal(verified: VerifiedAccessRequest, requestId: string): Principal {
  return {
    account: verified.practitioner,
    kind: "practitioner",
    organization: verified.organization,
    role: verified.role,
    purpose: verified.purpose,
    authenticatedBy: "node-signature",
    requestId,
  };
}

/** The exact string a node signs for a request (EIP-191 personal message). */
export function nodeRequestMessage(
  method: string,
  path: string,
  timestamp: number,
  body: string | Uint8Array,
): string {
  const digest = createHash("sha256").update(body).digest("hex");
  return `${method.toUpperCase()}\n${path}\n${timestamp}\n${digest}`;
}

/**
 * Signs an outgoing HTTP request as this node (EIP-191, https://eips.ethereum.org/EIPS/eip-191).
 * @param account - The node key.
 * @param request - `method`, `path` (path + query exactly as sent), `body` (exact bytes sent; "" for none).
 * @param now - Unix ms (default: the clock).
 * @returns The three `x-carechain-*` headers to send.
 */
export async function signNodeRequest(
  account: LocalAccount,
  request: { method: string; path: string; body?: string | Uint8Array | undefined },
  now: number = Date.now(),
): Promise<Record<string, string>> {
  const signature = await account.signMessage({
    message: nodeRequestMessage(request.method, request.path, now, request.body ?? ""),
  });
  return {
    [NODE_HEADERS.node]: account.address,
    [NODE_HEADERS.timestamp]: String(now),
    [NODE_HEADERS.signature]: signature,
  };
}

/**
 * Verifies an incoming node-signed request: timestamp within ±60 s, EIP-191 signature by the
 * named node, that node the registered node of an active organization, signature never seen
 * before (then recorded until it would be stale anyway).
 * @param request - `method`, `path` (path + query as received), raw `body`, `headers`.
 * @param db - The serving node's database.
 * @param now - Unix ms (default: the clock).
 * @returns The node's address and organization.
 */
export async function verifyNodeRequest(
  request: {
    method: string;
    path: string;
    body?: string | Uint8Array | undefined;
    headers: Record<string, string | string[] | undefined>;
  },
  db: Kysely<Schema>,
  now: number = Date.now(),
): Promise<VerifiedNode> {
  const header = (name: string): string => {
    const value = request.headers[name];
    const one = Array.isArray(value) ? value[0] : value;
    if (one === undefined || one === "") throw new BaseError("unauthenticated", `missing header ${name}`);
    return one;
  };
  const nodeHeader = header(NODE_HEADERS.node);
  const timestampHeader = header(NODE_HEADERS.timestamp);
  const signature = header(NODE_HEADERS.signature);
  if (!/^0x[0-9a-fA-F]{40}$/u.test(nodeHeader))
    throw new BaseError("unauthenticated", `malformed ${NODE_HEADERS.node}`);
  if (!/^\d{1,16}$/u.test(timestampHeader)) {
    throw new BaseError("unauthenticated", `malformed ${NODE_HEADERS.timestamp}`);
  }
  if (!/^0x[0-9a-fA-F]{130}$/u.test(signature)) {
    throw new BaseError("unauthenticated", `malformed ${NODE_HEADERS.signature}`);
  }
  const timestamp = Number(timestampHeader);
  if (Math.abs(now - timestamp) > NODE_REQUEST_WINDOW_MS) {
    throw new BaseError("unauthenticated", "node request timestamp is outside the accepted window", {
      details: `allowed skew ${NODE_REQUEST_WINDOW_MS} ms`,
    });
  }
  const node = getAddress(nodeHeader);
  let signer: Address;
  try {
    signer = await recoverMessageAddress({
      message: nodeRequestMessage(request.method, request.path, timestamp, request.body ?? ""),
      signature: signature as Hex,
    });
  } catch (cause) {
    throw new BaseError("unauthenticated", "node request signature is malformed", { cause });
  }
  if (!isAddressEqual(signer, node))
    throw new BaseError("unauthenticated", "node request signature does not match");
  const organization = await organizationByNode(db, node);
  if (organization === undefined || !organization.active) {
    throw new BaseError("forbidden", "requesting node is not the node of an active registered organization");
  }
  await consumeOnce(db, "node-request", `${node}:${signature}`, timestamp + NODE_REQUEST_WINDOW_MS, now);
  return { node, organization };
}

/** Encodes a signed access request for the `x-carechain-access-request` header (base64url JSON). */
export function encodeAccessRequestHeader(signed: SignedAccessRequest): string {
  return Buffer.from(JSON.stringify(signed), "utf8").toString("base64url");
}

/** Decodes and validates the `x-carechain-access-request` header. */
export function decodeAccessRequestHeader(value: string): SignedAccessRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch (cause) {
    throw new BaseError("invalid", "x-carechain-access-request is not base64url JSON", { cause });
  }
  // `{request, signature}` is accepted as a synonym of `{accessRequest, signature}`.
  if (typeof parsed === "object" && parsed !== null && "request" in parsed && !("accessRequest" in parsed)) {
    const { request, ...rest } = parsed;
    parsed = { ...rest, accessRequest: request };
  }
  const result = signedAccessRequestSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new BaseError(
      "invalid",
      `x-carechain-access-request ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`,
    );
  }
  return result.data;
}
