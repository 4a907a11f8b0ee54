import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Hex } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { Principal } from "../model/principal.js";
import { principalFromSession } from "../access/resolvePrincipal.js";
import { verifySessionToken } from "../access/sessionToken.js";
import { BaseError } from "../errors/BaseError.js";
import { ACCESS_REQUEST_HEADER } from "../federation/federationService.js";
import type { VerifiedNode } from "../federation/nodeAuth.js";
import { verifyFastifyNodeRequest } from "../federation/signedRequest.js";
import { fhirInteraction } from "../smart/fhirInteraction.js";
import { isSmartAccessToken } from "../smart/scopes.js";
import type { SmartService } from "../smart/smartService.js";
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

/** What the FHIR routes need to accept SMART access tokens besides sessions. */
export interface SmartTokens {
  service: Pick<SmartService, "principal">;
  /** Records the scope refusals, as every other denial. */
  auditor: Pick<Auditor, "record">;
}

/**
 * The FHIR API's routes: a SIWE session token as {@link sessionAuth}, or, with `smart`, a SMART
 * access token. An app's request is checked against its scope by type and interaction before
 * anything is read (a route apps may not call, or a type or interaction its scope does not name:
 * 403 naming the scope rule, audited); what it reads is then narrowed per resource by the record
 * gate. Only the FHIR routes take SMART tokens: consents, audit and the rest stay the user's.
 * @param nodeKey - The node's key, which signs session tokens.
 */
export function fhirAuth(nodeKey: Hex, smart?: SmartTokens): Authenticator<Principal> {
  if (smart === undefined) return sessionAuth(nodeKey);
  return {
    scheme: "session",
    beforeBody: true,
    authenticate: (request) => {
      const header = request.headers.authorization;
      const token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7).trim() : "";
      if (!isSmartAccessToken(token)) return principalOf(request, nodeKey);
      return smartPrincipal(request, token, smart);
    },
  };
}

async function smartPrincipal(
  request: FastifyRequest,
  token: string,
  smart: SmartTokens,
): Promise<Principal> {
  const purpose = request.headers[PURPOSE_HEADER];
  const principal = await smart.service.principal(token, {
    purpose: Array.isArray(purpose) ? purpose[0] : purpose,
    requestId: request.id,
  });
  const scope = principal.scope;
  const check = fhirInteraction(
    request.method,
    request.routeOptions.url,
    request.params as Record<string, string | undefined>,
  );
  const rule =
    check === undefined
      ? "apps holding a SMART token may not call this route"
      : check === "entries"
        ? undefined
        : scope?.refusal(check.type, check.interaction);
  if (rule !== undefined) {
    await smart.auditor.record(principal, { action: "deny", decision: "deny", reason: `scope: ${rule}` });
    throw new BaseError("forbidden", `refused by the SMART scope: ${rule}`, { code: "forbidden" });
  }
  return principal;
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

/**
 * Routes a practitioner's client calls with a signed AccessRequest (`x-carechain-access-request`)
 * instead of a session: 401 without one. The caller is the header's value, which the federation
 * service verifies (signature, membership, single use) before it acts.
 */
export const accessRequestAuth: Authenticator<string> = {
  scheme: "access-request",
  beforeBody: true,
  authenticate: (request) => {
    const header = request.headers[ACCESS_REQUEST_HEADER];
    if (typeof header !== "string" || header === "")
      throw new BaseError("unauthenticated", `send the signed AccessRequest in ${ACCESS_REQUEST_HEADER}`);
    return header;
  },
};

/**
 * `$everything`, which a signed-in caller (or, with `smart`, an app) reads at this node, and a practitioner's client asks
 * across the consortium (`federated=true`) with a signed AccessRequest and no session.
 * @param nodeKey - The node's key, which signs session tokens.
 */
export function sessionOrAccessRequestAuth(
  nodeKey: Hex,
  smart?: SmartTokens,
): Authenticator<{ session: Principal } | { accessRequest: string }> {
  const bearer = fhirAuth(nodeKey, smart);
  return {
    scheme: "session-or-access-request",
    beforeBody: true,
    authenticate: (request) => {
      if (request.headers.authorization === undefined && request.headers[ACCESS_REQUEST_HEADER] !== undefined)
        return { accessRequest: accessRequestAuth.authenticate(request) as string };
      const session = bearer.authenticate(request);
      return session instanceof Promise ? session.then((p) => ({ session: p })) : { session };
    },
  };
}

/**
 * The user a bearer token handed over in a request body speaks for (CDS Hooks'
 * `fhirAuthorization.access_token`): a session token, or a SMART access token whose scope lets it
 * read the Patient's record (as for `$everything`; what is read is narrowed per resource after).
 * @param nodeKey - The node's key, which signs session tokens.
 * @param smart - Accepts SMART access tokens when given.
 */
export function bearerPrincipal(nodeKey: Hex, smart?: SmartTokens) {
  return async (token: string, requestId: string): Promise<Principal> => {
    if (smart !== undefined && isSmartAccessToken(token)) {
      const principal = await smart.service.principal(token, { purpose: undefined, requestId });
      const rule = principal.scope?.refusal("Patient", "r");
      if (rule !== undefined) {
        await smart.auditor.record(principal, { action: "deny", decision: "deny", reason: `scope: ${rule}` });
        throw new BaseError("forbidden", `refused by the SMART scope: ${rule}`, { code: "forbidden" });
      }
      return principal;
    }
    return principalFromSession(verifySessionToken(nodeKey, token), { purpose: undefined, requestId });
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
