import type { FastifyRequest } from "fastify";
import type { Hex } from "viem";
import type { Principal } from "../model/principal.js";
import { principalFromSession } from "../access/resolvePrincipal.js";
import { verifySessionToken } from "../access/sessionToken.js";
import { BaseError } from "../errors/BaseError.js";

/** Header in which a caller declares the HL7 purpose of use of a request. */
export const PURPOSE_HEADER = "x-purpose-of-use";

/**
 * The Principal of a request: a verified session token (`Authorization: Bearer <jwt>`) and the
 * declared purpose of use. Throws 401 without a valid token.
 */
export function principalOf(request: FastifyRequest, nodeKey: Hex): Principal {
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
