import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Hex } from "viem";
import type { Principal } from "../model/principal.js";
import { principalFromSession } from "../access/resolvePrincipal.js";
import { verifySessionToken } from "../access/sessionToken.js";
import { BaseError } from "../errors/BaseError.js";
import type { VerifiedNode } from "../federation/nodeAuth.js";
import { verifyFastifyNodeRequest } from "../federation/signedRequest.js";
import type { Schema } from "../store/schema.js";
import type { Authenticator } from "./routeDef.js";

/** Header in which a caller declares the HL7 purpose of use of a request. */
const PURPOSE_HEADER = "x-purpose-of-use";

/**
 * Routes that need a SIWE session: the caller is the Principal of a verified session token
 * (`Authorization: Bearer <jwt>`) with the declared purpose of use; 401 without a valid token.
 * It runs before the body is read.
 * @param nodeKey - The node's key, which signs session tokens.
 */
export function sessionAuth(nodeKey: Hex): Authenticator<Principal> {
  return {
    scheme: "session",
    beforeBody: true,
    authenticate: (request) => principalOf(request, nodeKey),
  };
}

/**
 * Routes another consortium node calls: the caller is the node whose signature covers the method,
 * path, time and the exact body bytes (`captureRawJsonBody` must be set in the route's plugin).
 * @param db - This node's database (participant registry mirror, replay guard).
 */
export function nodeSignatureAuth(db: Kysely<Schema>): Authenticator<VerifiedNode> {
  return {
    scheme: "node-signature",
    beforeBody: false,
    authenticate: (request) => verifyFastifyNodeRequest(request, db),
  };
}

function principalOf(request: FastifyRequest, nodeKey: Hex): Principal {
  const header = request.headers.authorization;
  if (typeof header !== "string" || !header.startsWith("Bearer ")) {
    throw new BaseError(
      "unauthenticated",
      "sign in first: send Authorization: Bearer <session token> (POST /auth/challenge, /auth/verify)",
    );
  }
  const claims = verifySessionToken(nodeKey, header.slice("Bearer ".length).trim());
  const purpose = request.headers[PURPOSE_HEADER];
  return principalFromSession(claims, {
    purpose: Array.isArray(purpose) ? purpose[0] : purpose,
    requestId: request.id,
  });
}
