/**
 * Guidance over HTTP: the IPS-shaped patient summary (`Patient/{id}/$summary`), guidance for a
 * clinician and for the patient, and the CDS Hooks 2.0 service (`/cds-services`). Every one of them
 * is computed from what the caller may read — `$everything` at this node, or across the consortium
 * with `federated=true` and a signed AccessRequest — so guidance never implies a hidden fact.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import type { Principal } from "../../model/principal.js";
import { BaseError } from "../../errors/BaseError.js";
import { fhirId } from "../../model/schemas.js";
import type { FederationService } from "../../federation/federationService.js";
import { sourceOf } from "../../federation/federatedFetch.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import type { RecordRepository } from "../../records/repository.js";
import { bundleResources, clinicalFacts, sourceOfResource } from "../../guidance/clinicalFacts.js";
import type { CdsClientRegistry, CdsCaller } from "../../guidance/cdsClients.js";
import {
  cdsDiscovery,
  cdsFeedbackSchema,
  cdsRequestSchema,
  type CdsHooksService,
} from "../../guidance/cdsHooks.js";
import { patientGuidance } from "../../guidance/guidance.js";
import { patientSummary } from "../../guidance/patientSummary.js";
import { sessionAuth, sessionOrAccessRequestAuth, type SmartTokens } from "../authenticate.js";
import { publicRoute, route, type Authenticator } from "../routeDef.js";

export interface GuidanceRouteDeps {
  records: Pick<RecordRepository, "everything" | "everythingForAccount">;
  federation: Pick<FederationService, "everythingOfPatient">;
  cds: CdsHooksService;
  cdsClients: CdsClientRegistry;
  nodeKey: Hex;
  smart?: SmartTokens;
  organizationId: Hex;
  /** The node's public base URL (CDS client JWTs name `${publicUrl}/cds-services/...` as audience). */
  publicUrl: string;
  /** Registered organizations' names by id (lowercase), for the summary's "Recorded by" column. */
  organizationNames: () => Promise<ReadonlyMap<string, string>>;
}

const FHIR_JSON = "application/fhir+json";
const idParams = z.object({ id: fhirId });
const federatedQuery = z.object({ federated: z.enum(["true", "false"]).optional() });

/** CDS clients sign each call with a JWT whose audience is the endpoint called. */
function cdsClientAuth(registry: CdsClientRegistry, publicUrl: string): Authenticator<CdsCaller> {
  const base = publicUrl.replace(/\/$/, "");
  return {
    scheme: "cds-client-jwt",
    beforeBody: true,
    authenticate: (request: FastifyRequest) => {
      const header = request.headers.authorization;
      const path = request.url.split("?")[0] ?? "";
      return registry.verify(typeof header === "string" ? header : undefined, `${base}${path}`);
    },
  };
}

/** Local resources carry no `meta.source`: they are tagged with this node's organization. */
function sourced(bundle: FhirResource, organizationId: Hex): FhirResource[] {
  const own = sourceOf(organizationId);
  return bundleResources(bundle).map((r) =>
    sourceOfResource(r) === undefined
      ? { ...r, meta: { ...(r.meta as object | undefined), source: own } }
      : r,
  );
}

/** `GET /fhir/Patient/:id/$summary`, clinician and patient guidance, and CDS Hooks. */
export function guidanceRoutes(deps: GuidanceRouteDeps) {
  return (app: FastifyInstance): void => {
    const sessionOrAccessRequest = sessionOrAccessRequestAuth(deps.nodeKey, deps.smart);
    const session = sessionAuth(deps.nodeKey);
    const cdsAuth = cdsClientAuth(deps.cdsClients, deps.publicUrl);
    const fhirBase = `${deps.publicUrl.replace(/\/$/, "")}/fhir`;
    /** The IPS document of what the caller may see. */
    const summaryOf = async (resources: FhirResource[]): Promise<FhirResource> =>
      patientSummary(clinicalFacts(resources), {
        now: new Date(),
        fhirBase,
        author: deps.organizationId,
        organizationNames: await deps.organizationNames(),
      });
    /** The signed-in patient's own record at this node, each resource with its source. */
    const ownRecord = async (caller: Principal): Promise<FhirResource[]> => {
      if (caller.kind !== "patient") throw new BaseError("forbidden", "patients only", { code: "forbidden" });
      return sourced(await deps.records.everythingForAccount(caller, caller.account), deps.organizationId);
    };

    /** What the caller may see of the patient: here, or across the consortium. */
    const visible = async (
      caller: { session: Principal } | { accessRequest: string },
      patientId: string,
      federated: boolean,
      requestId: string,
    ): Promise<FhirResource[]> => {
      if (federated) {
        const bundle = await deps.federation.everythingOfPatient(
          "accessRequest" in caller ? caller.accessRequest : undefined,
          patientId,
          requestId,
        );
        return sourced(bundle, deps.organizationId);
      }
      if (!("session" in caller))
        throw new BaseError("unauthenticated", "sign in first: send Authorization: Bearer <session token>");
      return sourced(await deps.records.everything(caller.session, patientId), deps.organizationId);
    };

    route(
      app,
      {
        method: "GET",
        url: "/fhir/Patient/:id/$summary",
        summary:
          "International Patient Summary of what you may see (document Bundle); with federated=true, across the consortium",
        tags: ["fhir", "guidance"],
        auth: sessionOrAccessRequest,
        params: idParams,
        query: federatedQuery,
      },
      async ({ caller, request, reply, params, query }) => {
        const resources = await visible(caller, params.id, query.federated === "true", request.id);
        const summary = await summaryOf(resources);
        return reply.header("cache-control", "no-store").type(FHIR_JSON).send(summary);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/guidance/patients/:id",
        summary:
          "Care guidance for a patient, from what you may see (with federated=true, across the consortium)",
        tags: ["guidance"],
        auth: sessionOrAccessRequest,
        params: idParams,
        query: federatedQuery,
      },
      async ({ caller, request, reply, params, query }) => {
        const resources = await visible(caller, params.id, query.federated === "true", request.id);
        const guidance = patientGuidance(clinicalFacts(resources), new Date());
        return reply.header("cache-control", "no-store").send({ patient: params.id, guidance });
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/patients/me/guidance",
        summary: "Your care guidance in plain words, from your record at this node",
        tags: ["guidance"],
        auth: session,
      },
      async ({ caller, reply }) => {
        const guidance = patientGuidance(clinicalFacts(await ownRecord(caller)), new Date());
        return reply.header("cache-control", "no-store").send({
          guidance: guidance.map((g) => ({
            id: g.id,
            indicator: g.indicator,
            text: g.patientText,
            source: `${g.source.publisher}, ${g.source.title} (${g.source.date})`,
          })),
        });
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/patients/me/summary",
        summary: "Your International Patient Summary at this node (FHIR document Bundle)",
        tags: ["guidance"],
        auth: session,
      },
      async ({ caller, reply }) => {
        const summary = await summaryOf(await ownRecord(caller));
        return reply.header("cache-control", "no-store").type(FHIR_JSON).send(summary);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/cds-services",
        summary: "CDS Hooks discovery (patient-view, order-select, order-sign)",
        tags: ["cds-hooks"],
        auth: publicRoute,
      },
      async ({ reply }) => reply.send(cdsDiscovery()),
    );

    route(
      app,
      {
        method: "POST",
        url: "/cds-services/:id",
        summary:
          "Call a CDS service (JWT of a registered CDS client; data from fhirAuthorization or prefetch)",
        tags: ["cds-hooks"],
        auth: cdsAuth,
        params: z.object({ id: z.string().min(1).max(100) }),
        body: cdsRequestSchema,
      },
      async ({ request, reply, params, body }) =>
        reply.header("cache-control", "no-store").send(await deps.cds.call(params.id, body, request.id)),
    );

    route(
      app,
      {
        method: "POST",
        url: "/cds-services/:id/feedback",
        summary: "Feedback on cards (accepted suggestions, overrides)",
        tags: ["cds-hooks"],
        auth: cdsAuth,
        params: z.object({ id: z.string().min(1).max(100) }),
        body: cdsFeedbackSchema,
      },
      async ({ caller, reply, params, body }) => {
        await deps.cds.feedback(params.id, caller, body);
        return reply.send({});
      },
    );
  };
}
