import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import type { Hex, LocalAccount } from "viem";
import { z } from "zod";
import type { Principal } from "../../model/principal.js";
import { BaseError } from "../../errors/BaseError.js";
import { federatedEverything, MAX_FEDERATED_BYTES } from "../../federation/federatedFetch.js";
import { locate } from "../../federation/locatorMirror.js";
import {
  accessRequestPrincipal,
  decodeAccessRequestHeader,
  signedAccessRequestSchema,
  verifyAccessRequest,
  type SignedAccessRequest,
} from "../../federation/nodeAuth.js";
import { captureRawJsonBody } from "../../federation/signedRequest.js";
import { address } from "../../model/schemas.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import type { Auditor } from "../../audit/auditor.js";
import type { RecordRepository } from "../../records/repository.js";
import type { Schema } from "../../store/schema.js";
import { nodeSignatureAuth } from "../authenticate.js";
import { publicRoute, route, type Authenticator } from "../routeDef.js";

export interface FederationDeps {
  db: Kysely<Schema>;
  records: RecordRepository;
  auditor: Auditor;
  /** This node's key (signs requests to peers). */
  account: LocalAccount;
  organizationId: Hex;
  chainId: number;
  /** Per-peer timeout of a federated fetch (ms). */
  peerTimeoutMs?: number;
}

const FHIR_JSON = "application/fhir+json";
const ACCESS_REQUEST_HEADER = "x-carechain-access-request";
const account = z.object({ patient: address });

/**
 * Federation between consortium nodes. `POST /federation/fetch` serves another node: node
 * signature + practitioner AccessRequest, then the same consent decision and audit as a local
 * read. `GET /federation/everything` asks every holder for a practitioner of this node.
 * `GET /federation/locate` lists the holders (from the RecordLocator mirror).
 */
export function federationRoutes(deps: FederationDeps) {
  const node = nodeSignatureAuth(deps.db);
  /** A practitioner of this node, by the signed AccessRequest their client sends in a header. */
  const practitioner: Authenticator<{ signed: SignedAccessRequest; principal: Principal }> = {
    scheme: "access-request",
    beforeBody: true,
    authenticate: async (request) => {
      const header = request.headers[ACCESS_REQUEST_HEADER];
      if (typeof header !== "string") {
        throw new BaseError("unauthenticated", `send the signed AccessRequest in ${ACCESS_REQUEST_HEADER}`);
      }
      const signed = decodeAccessRequestHeader(header);
      const verified = await verifyAccessRequest(deps.db, signed, {
        chainId: deps.chainId,
        organization: deps.organizationId,
      });
      return { signed, principal: accessRequestPrincipal(verified, request.id) };
    },
  };
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(async (scope) => {
      captureRawJsonBody(scope);
      route(
        scope,
        {
          method: "POST",
          url: "/federation/fetch",
          summary: "Serve a patient's record to another node (node signature + practitioner AccessRequest)",
          tags: ["federation"],
          auth: node,
          body: signedAccessRequestSchema,
        },
        async ({ caller, request, reply, body }) => {
          const verified = await verifyAccessRequest(deps.db, body, {
            chainId: deps.chainId,
            organization: caller.organization.id,
          });
          const principal = accessRequestPrincipal(verified, request.id);
          const bundle = await deps.records.everythingForAccount(
            principal,
            verified.patient,
            verified.categories,
          );
          if (bundle.total === 0 && hasSuppressed(bundle)) {
            throw new BaseError("forbidden", "access denied by the patient's consent", { code: "forbidden" });
          }
          const text = JSON.stringify(bundle);
          if (Buffer.byteLength(text, "utf8") > MAX_FEDERATED_BYTES) {
            throw new BaseError("too-large", "the record exceeds the federation response limit", {
              details: `limit ${MAX_FEDERATED_BYTES} bytes; ask for fewer categories`,
            });
          }
          return reply.header("cache-control", "no-store").type(FHIR_JSON).send(text);
        },
      );
    });

    route(
      app,
      {
        method: "GET",
        url: "/federation/everything",
        summary: `A patient's record across the consortium; the practitioner's signed AccessRequest in ${ACCESS_REQUEST_HEADER}`,
        tags: ["federation"],
        auth: practitioner,
        query: account,
      },
      async ({ caller: { signed, principal }, reply, query }) => {
        if (signed.accessRequest.patient.toLowerCase() !== query.patient.toLowerCase()) {
          throw new BaseError("invalid", "the AccessRequest names another patient", {
            expression: "patient",
          });
        }
        const bundle = await federatedEverything(
          {
            db: deps.db,
            records: deps.records,
            auditor: deps.auditor,
            account: deps.account,
            organizationId: deps.organizationId,
            ...(deps.peerTimeoutMs ? { timeoutMs: deps.peerTimeoutMs } : {}),
          },
          principal,
          signed,
        );
        return reply.header("cache-control", "no-store").type(FHIR_JSON).send(bundle);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/federation/locate",
        summary: "Which organizations hold which categories of a patient's record (no health data)",
        tags: ["federation"],
        auth: publicRoute,
        query: account,
      },
      async ({ query }) => ({ patient: query.patient, locations: await locate(deps.db, query.patient) }),
    );
  };
}

function hasSuppressed(bundle: FhirResource): boolean {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as Array<{ search?: { mode?: string } }>) : [];
  return entries.some((e) => e.search?.mode === "outcome");
}
