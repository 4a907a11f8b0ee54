import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import type { Hex } from "viem";
import { z } from "zod";
import {
  ACCESS_REQUEST_HEADER,
  MAX_PRESENTED_GRANTS,
  type FederationService,
} from "../../federation/federationService.js";
import { GRANTS_PATH } from "../../federation/grantDistribution.js";
import { signedAccessRequestSchema } from "../../federation/nodeAuth.js";
import { signedGrantSchema } from "../../consent/signConsent.js";
import { captureRawJsonBody } from "../../federation/signedRequest.js";
import { address } from "../../model/schemas.js";
import type { Schema } from "../../store/schema.js";
import { accessRequestAuth, nodeSignatureAuth, sessionAuth } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface FederationDeps {
  federation: FederationService;
  /** Node signatures are checked against the participant mirror in this database. */
  db: Kysely<Schema>;
  /** Verifies session tokens. */
  nodeKey: Hex;
}

const FHIR_JSON = "application/fhir+json";
const account = z.object({ patient: address });
const discovery = z.object({ discoverable: z.boolean() }).strict();
const fetchBody = signedAccessRequestSchema.extend({
  grants: z.array(z.unknown()).max(MAX_PRESENTED_GRANTS).optional(),
});

/**
 * Federation between consortium nodes, over `FederationService`. `POST /federation/fetch` serves
 * another node; `POST /federation/grants` takes a patient's signed grant terms from another node;
 * `GET /federation/everything` asks every holder for a practitioner of this node;
 * `GET /federation/locate` lists the holders (signed-in practitioners and nodes, audited);
 * `GET|PUT /federation/discovery` is the patient's opt-out of this organization's discovery.
 */
export function federationRoutes(deps: FederationDeps) {
  const { federation } = deps;
  const session = sessionAuth(deps.nodeKey);
  const node = nodeSignatureAuth(deps.db);
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
          body: fetchBody,
        },
        async ({ caller, request, reply, body }) => {
          const text = await federation.serveFetch(caller, body, request.id);
          return reply.header("cache-control", "no-store").type(FHIR_JSON).send(text);
        },
      );
      route(
        scope,
        {
          method: "POST",
          url: GRANTS_PATH,
          summary:
            "Accept a patient's signed grant terms from another node (node signature; checked against the ledger's commitment)",
          tags: ["federation"],
          auth: node,
          body: signedGrantSchema,
        },
        async ({ caller, request, body }) => federation.acceptGrant(caller, body, request.id),
      );
    });

    route(
      app,
      {
        method: "GET",
        url: "/federation/everything",
        summary: `A patient's record across the consortium; the practitioner's signed AccessRequest in ${ACCESS_REQUEST_HEADER}`,
        tags: ["federation"],
        auth: accessRequestAuth,
        query: account,
      },
      async ({ caller, request, reply, query }) => {
        const bundle = await federation.everything(caller, query.patient, request.id);
        return reply.header("cache-control", "no-store").type(FHIR_JSON).send(bundle);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/federation/everything-here",
        summary:
          "A patient's record held at this node that you may see, each resource tagged with its source organization (session; practitioners)",
        tags: ["federation"],
        auth: session,
        query: account,
      },
      async ({ caller, reply, query }) => {
        const bundle = await federation.everythingHere(caller, query.patient);
        return reply.header("cache-control", "no-store").type(FHIR_JSON).send(bundle);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/federation/locate",
        summary: "Which organizations hold data for a patient's account (no categories; audited)",
        tags: ["federation"],
        auth: session,
        query: account,
      },
      async ({ caller, reply, query }) =>
        reply.header("cache-control", "no-store").send(await federation.locate(caller, query.patient)),
    );

    route(
      app,
      {
        method: "GET",
        url: "/federation/discovery",
        summary: "Whether this organization lists the signed-in patient in the RecordLocator",
        tags: ["federation"],
        auth: session,
      },
      async ({ caller }) => federation.discoverable(caller),
    );

    route(
      app,
      {
        method: "PUT",
        url: "/federation/discovery",
        summary: "Opt this organization out of (or back into) discovery through the RecordLocator",
        tags: ["federation"],
        auth: session,
        body: discovery,
      },
      async ({ caller, body }) => federation.setDiscoverable(caller, body.discoverable),
    );
  };
}
