import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { BaseError } from "../../errors/BaseError.js";
import { ACCESS_REQUEST_HEADER, type FederationService } from "../../federation/federationService.js";
import { isSupportedType } from "../../records/fhirTypes.js";
import type { RecordRepository } from "../../records/repository.js";
import { principalOf } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface FhirDeps {
  records: RecordRepository;
  nodeKey: Hex;
  /** Serves `Patient/{id}/$everything?federated=true` (decides and audits before fetching). */
  federation: Pick<FederationService, "everythingOfPatient">;
  /** Extra read-only FHIR views served by other rooms (Consent, AuditEvent). */
  views?: Record<
    string,
    (request: FastifyRequest, query: Record<string, string | string[] | undefined>) => Promise<unknown>
  >;
}

const typeParam = z.object({
  type: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/, "must be a FHIR resource type"),
});
const idParams = typeParam.extend({ id: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, "must be a FHIR id") });
const query = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
const FHIR_JSON = "application/fhir+json";

function supported(type: string): string {
  if (!isSupportedType(type))
    throw new BaseError("invalid", `unknown or unsupported resource type ${type}`, { code: "not-supported" });
  return type;
}

/** FHIR R4 REST over the records repository: every path goes through its consent check and audit. */
export function fhirRoutes(deps: FhirDeps) {
  const { records } = deps;
  const who = (request: FastifyRequest) => principalOf(request, deps.nodeKey);
  return (app: FastifyInstance): void => {
    route(
      app,
      { method: "GET", url: "/fhir/metadata", summary: "FHIR CapabilityStatement", tags: ["fhir"] },
      async () => capabilityStatement(),
    );

    route(
      app,
      {
        method: "POST",
        url: "/fhir",
        summary: "Import a transaction/batch/collection Bundle",
        tags: ["fhir"],
        auth: true,
        bodyLimit: 64 * 1024 * 1024,
      },
      async ({ request, reply, body }) => {
        const principal = who(request);
        const account = request.headers["x-patient-account"];
        const result = await records.importBundle(principal, body, {
          patientAccount:
            typeof account === "string" && /^0x[0-9a-fA-F]{40}$/.test(account) ? (account as Hex) : undefined,
        });
        return reply.type(FHIR_JSON).send(result);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/Patient/:id/$everything",
        summary:
          "The patient's whole record you may see; with federated=true, across the consortium (same as /federation/everything)",
        tags: ["fhir"],
        auth: true,
        params: idParams.omit({ type: true }),
        query: z.object({ federated: z.enum(["true", "false"]).optional() }),
      },
      async ({ request, reply, params, query }) => {
        if (query.federated === "true") {
          // the merged view is authorized by the practitioner's signed AccessRequest header
          const access = request.headers[ACCESS_REQUEST_HEADER];
          const bundle = await deps.federation.everythingOfPatient(
            typeof access === "string" ? access : undefined,
            params.id,
            request.id,
          );
          return reply.header("cache-control", "no-store").type(FHIR_JSON).send(bundle);
        }
        return reply.type(FHIR_JSON).send(await records.everything(who(request), params.id));
      },
    );

    route(
      app,
      {
        method: "POST",
        url: "/fhir/Patient/:id/$erase",
        summary: "Crypto-shred the patient's record (the patient only)",
        tags: ["fhir"],
        auth: true,
        params: idParams.omit({ type: true }),
      },
      async ({ request, params }) => records.erasePatient(who(request), params.id),
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type",
        summary: "FHIR search",
        tags: ["fhir"],
        auth: true,
        params: typeParam,
        query,
      },
      async ({ request, reply, params, query: q }) => {
        const view = deps.views?.[params.type];
        if (view) return reply.type(FHIR_JSON).send(await view(request, q));
        const principal = who(request);
        return reply
          .type(FHIR_JSON)
          .send(await records.search(principal, supported(params.type), q, "/fhir"));
      },
    );

    route(
      app,
      {
        method: "POST",
        url: "/fhir/:type",
        summary: "FHIR create",
        tags: ["fhir"],
        auth: true,
        params: typeParam,
      },
      async ({ request, reply, params, body }) => {
        const principal = who(request);
        supported(params.type);
        if (
          typeof body !== "object" ||
          body === null ||
          (body as { resourceType?: unknown }).resourceType !== params.type
        ) {
          throw new BaseError("invalid", `body must be a ${params.type} resource`, {
            expression: "resourceType",
          });
        }
        const created = await records.create(principal, body);
        return reply
          .status(201)
          .header("location", `/fhir/${params.type}/${created.id}/_history/${created.meta?.versionId}`)
          .type(FHIR_JSON)
          .send(created);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type/:id",
        summary: "FHIR read",
        tags: ["fhir"],
        auth: true,
        params: idParams,
      },
      async ({ request, reply, params }) => {
        const principal = who(request);
        // the stored canonical JSON goes out as it is: no parse and re-serialize per read
        const { text, versionId } = await records.readText(principal, supported(params.type), params.id);
        return reply.header("etag", `W/"${versionId}"`).type(FHIR_JSON).send(text);
      },
    );

    route(
      app,
      {
        method: "PUT",
        url: "/fhir/:type/:id",
        summary: "FHIR update",
        tags: ["fhir"],
        auth: true,
        params: idParams,
      },
      async ({ request, reply, params, body }) => {
        const principal = who(request);
        const updated = await records.update(principal, supported(params.type), params.id, body);
        return reply
          .status(updated.meta?.versionId === "1" ? 201 : 200)
          .type(FHIR_JSON)
          .send(updated);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type/:id/_history",
        summary: "FHIR history",
        tags: ["fhir"],
        auth: true,
        params: idParams,
      },
      async ({ request, reply, params }) => {
        const principal = who(request);
        return reply
          .type(FHIR_JSON)
          .send(await records.history(principal, supported(params.type), params.id));
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type/:id/_history/:vid",
        summary: "FHIR vread",
        tags: ["fhir"],
        auth: true,
        params: idParams.extend({ vid: z.coerce.number().int().min(1) }),
      },
      async ({ request, reply, params }) => {
        const principal = who(request);
        return reply
          .type(FHIR_JSON)
          .send(await records.vread(principal, supported(params.type), params.id, params.vid));
      },
    );
  };
}

function capabilityStatement(): object {
  return {
    resourceType: "CapabilityStatement",
    status: "active",
    kind: "instance",
    fhirVersion: "4.0.1",
    format: ["application/fhir+json"],
    date: "2026-11-25",
    software: { name: "carechain" },
    rest: [
      {
        mode: "server",
        security: {
          description:
            "SIWE (EIP-4361) sign-in for a bearer session token; patient consent enforced on every interaction",
        },
        interaction: [{ code: "transaction" }],
      },
    ],
  };
}
