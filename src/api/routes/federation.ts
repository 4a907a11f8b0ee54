import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Hex } from "viem";
import { z } from "zod";
import { ACCESS_REQUEST_HEADER, type FederationService } from "../../federation/federationService.js";
import { signedAccessRequestSchema } from "../../federation/nodeAuth.js";
import { captureRawJsonBody, verifyFastifyNodeRequest } from "../../federation/signedRequest.js";
import type { Schema } from "../../store/schema.js";
import { principalOf } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface FederationDeps {
  federation: FederationService;
  /** Node signatures are checked against the participant mirror in this database. */
  db: Kysely<Schema>;
  /** Verifies session tokens. */
  nodeKey: Hex;
}

const FHIR_JSON = "application/fhir+json";
const account = z.object({ patient: z.string().regex(/^0x[0-9a-fA-F]{40}$/u, "must be an account address") });
const discovery = z.object({ discoverable: z.boolean() }).strict();

/**
 * Federation between consortium nodes, over `FederationService`. `POST /federation/fetch` serves
 * another node; `GET /federation/everything` asks every holder for a practitioner of this node;
 * `GET /federation/locate` lists the holders (signed-in practitioners and nodes, audited);
 * `GET|PUT /federation/discovery` is the patient's opt-out of this organization's discovery.
 */
export function federationRoutes(deps: FederationDeps) {
  const { federation } = deps;
  const who = (request: FastifyRequest) => principalOf(request, deps.nodeKey);
  const header = (request: FastifyRequest): string | undefined => {
    const value = request.headers[ACCESS_REQUEST_HEADER];
    return typeof value === "string" ? value : undefined;
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
          body: signedAccessRequestSchema,
        },
        async ({ request, reply, body }) => {
          const node = await verifyFastifyNodeRequest(request, deps.db);
          const text = await federation.serveFetch(node, body, request.id);
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
        query: account,
      },
      async ({ request, reply, query }) => {
        const bundle = await federation.everything(header(request), query.patient as Hex, request.id);
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
        auth: true,
        query: account,
      },
      async ({ request, reply, query }) =>
        reply
          .header("cache-control", "no-store")
          .send(await federation.locate(who(request), query.patient as Hex)),
    );

    route(
      app,
      {
        method: "GET",
        url: "/federation/discovery",
        summary: "Whether this organization lists the signed-in patient in the RecordLocator",
        tags: ["federation"],
        auth: true,
      },
      async ({ request }) => federation.discoverable(who(request)),
    );

    route(
      app,
      {
        method: "PUT",
        url: "/federation/discovery",
        summary: "Opt this organization out of (or back into) discovery through the RecordLocator",
        tags: ["federation"],
        auth: true,
        body: discovery,
      },
      async ({ request, body }) => federation.setDiscoverable(who(request), body.discoverable),
    );
  };
}
