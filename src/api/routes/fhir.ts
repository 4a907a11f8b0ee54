import type { FastifyInstance, FastifyReply } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import type { Principal } from "../../model/principal.js";
import { BaseError } from "../../errors/BaseError.js";
import { ADDRESS_PATTERN, fhirId, fhirResourceType } from "../../model/schemas.js";
import type { FederationService } from "../../federation/federationService.js";
import { isSupportedType } from "../../records/fhirTypes.js";
import type { FhirResource } from "../../records/fhirTypes.js";
import type { RecordRepository } from "../../records/repository.js";
import { fhirAuth, sessionOrAccessRequestAuth, type SmartTokens } from "../authenticate.js";
import { capabilityStatement } from "../../records/capabilityStatement.js";
import { publicRoute, route, routeTable } from "../routeDef.js";

export interface FhirDeps {
  records: RecordRepository;
  nodeKey: Hex;
  /** Accepts SMART access tokens besides sessions (src/smart), narrowed by their scopes. */
  smart?: SmartTokens;
  /** Serves `Patient/{id}/$everything?federated=true` (decides and audits before fetching). */
  federation: Pick<FederationService, "everythingOfPatient">;
  /**
   * The CapabilityStatement's `rest.security` section, for whoever adds an authorization scheme
   * (SMART on FHIR); the SIWE description when absent.
   */
  capabilitySecurity?: () => object;
  /** Extra read-only FHIR views served by other rooms (Consent, AuditEvent, monitoring's Observation and Device). */
  views?: Record<
    string,
    (
      principal: Principal,
      query: Record<string, string | string[] | undefined>,
      options: { lenient: boolean },
    ) => Promise<unknown>
  >;
}

const typeParam = z.object({ type: fhirResourceType });
const idParams = typeParam.extend({ id: fhirId });
const query = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
const FHIR_JSON = "application/fhir+json";

/** A written version as FHIR answers it: the resource, its Location (with version) and ETag. */
function sendVersion(reply: FastifyReply, resource: FhirResource, status: number): FastifyReply {
  const version = resource.meta?.versionId;
  return reply
    .status(status)
    .header("location", `/fhir/${resource.resourceType}/${resource.id}/_history/${version}`)
    .header("etag", `W/"${version}"`)
    .type(FHIR_JSON)
    .send(resource);
}

/** A version ETag as FHIR servers send them (`W/"3"`), for `If-Match`. */
const VERSION_ETAG_RE = /^(?:W\/)?"(\d{1,9})"$/;

/** The version an `If-Match` header names, if any. */
function ifMatchOf(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = VERSION_ETAG_RE.exec((Array.isArray(header) ? header[0] : header)?.trim() ?? "");
  if (!m)
    throw new BaseError("invalid", 'If-Match must be a version ETag such as W/"3"', {
      expression: "If-Match",
    });
  return Number(m[1]);
}

/** The query of a conditional request, as sent (`a=b&c=d`), from the raw URL. */
function rawQuery(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? "" : url.slice(q + 1);
}

function supported(type: string): string {
  if (!isSupportedType(type))
    throw new BaseError("invalid", "unknown or unsupported resource type", {
      code: "not-supported",
      expression: "type",
    });
  return type;
}

/** FHIR R4 REST over the records repository: every path goes through its consent check and audit. */
export function fhirRoutes(deps: FhirDeps) {
  const { records } = deps;
  const session = fhirAuth(deps.nodeKey, deps.smart);
  const sessionOrAccessRequest = sessionOrAccessRequestAuth(deps.nodeKey, deps.smart);
  return (app: FastifyInstance): void => {
    route(
      app,
      {
        method: "GET",
        url: "/fhir/metadata",
        summary: "FHIR CapabilityStatement",
        tags: ["fhir"],
        auth: publicRoute,
      },
      async ({ reply }) =>
        reply.type(FHIR_JSON).send(
          capabilityStatement({
            routes: routeTable(app),
            views: Object.keys(deps.views ?? {}),
            ...(deps.capabilitySecurity ? { security: deps.capabilitySecurity } : {}),
          }),
        ),
    );

    route(
      app,
      {
        method: "POST",
        url: "/fhir",
        summary: "Import a transaction/batch/collection Bundle",
        tags: ["fhir"],
        auth: session,
        bodyLimit: 64 * 1024 * 1024,
      },
      async ({ caller, request, reply, body }) => {
        const account = request.headers["x-patient-account"];
        const result = await records.importBundle(caller, body, {
          patientAccount:
            typeof account === "string" && ADDRESS_PATTERN.test(account) ? (account as Hex) : undefined,
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
        auth: sessionOrAccessRequest,
        params: idParams.omit({ type: true }),
        query: z.object({ federated: z.enum(["true", "false"]).optional() }),
      },
      async ({ caller, request, reply, params, query }) => {
        if (query.federated === "true") {
          // the merged view is authorized by the practitioner's signed AccessRequest header
          const bundle = await deps.federation.everythingOfPatient(
            "accessRequest" in caller ? caller.accessRequest : undefined,
            params.id,
            request.id,
          );
          return reply.header("cache-control", "no-store").type(FHIR_JSON).send(bundle);
        }
        if (!("session" in caller))
          throw new BaseError("unauthenticated", "sign in first: send Authorization: Bearer <session token>");
        return reply.type(FHIR_JSON).send(await records.everything(caller.session, params.id));
      },
    );

    route(
      app,
      {
        method: "POST",
        url: "/fhir/Patient/:id/$erase",
        summary: "Crypto-shred the patient's record (the patient only)",
        tags: ["fhir"],
        auth: session,
        params: idParams.omit({ type: true }),
      },
      async ({ caller, params }) => records.erasePatient(caller, params.id),
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type",
        summary: "FHIR search",
        tags: ["fhir"],
        auth: session,
        params: typeParam,
        query,
      },
      async ({ caller, request, reply, params, query: q }) => {
        const view = deps.views?.[params.type];
        const lenient = preferLenient(request.headers.prefer);
        if (view) return reply.type(FHIR_JSON).send(await view(caller, q, { lenient }));
        return reply
          .type(FHIR_JSON)
          .send(await records.search(caller, supported(params.type), q, "/fhir", { lenient }));
      },
    );

    route(
      app,
      {
        method: "POST",
        url: "/fhir/:type",
        summary: "FHIR create",
        tags: ["fhir"],
        auth: session,
        params: typeParam,
      },
      async ({ caller, request, reply, params, body }) => {
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
        const condition = request.headers["if-none-exist"];
        const { resource, created } =
          typeof condition === "string"
            ? await records.createIfNoneExist(caller, body, condition)
            : { resource: await records.create(caller, body), created: true };
        return sendVersion(reply, resource, created ? 201 : 200);
      },
    );

    route(
      app,
      {
        method: "PUT",
        url: "/fhir/:type",
        summary: "FHIR conditional update (PUT Type?search): update the one match, create if none",
        tags: ["fhir"],
        auth: session,
        params: typeParam,
      },
      async ({ caller, request, reply, params, body }) => {
        const type = supported(params.type);
        const { resource, created } = await records.updateWhere(caller, type, rawQuery(request.url), body);
        return sendVersion(reply, resource, created ? 201 : 200);
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type/:id",
        summary: "FHIR read",
        tags: ["fhir"],
        auth: session,
        params: idParams,
      },
      async ({ caller, reply, params }) => {
        // the stored canonical JSON goes out as it is: no parse and re-serialize per read
        const { text, versionId } = await records.readText(caller, supported(params.type), params.id);
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
        auth: session,
        params: idParams,
      },
      async ({ caller, request, reply, params, body }) => {
        const type = supported(params.type);
        const updated = await records.update(caller, type, params.id, body, {
          ifMatch: ifMatchOf(request.headers["if-match"]),
        });
        return sendVersion(reply, updated, updated.meta?.versionId === "1" ? 201 : 200);
      },
    );

    route(
      app,
      {
        method: "DELETE",
        url: "/fhir/:type/:id",
        summary: "FHIR delete (a new version marks it deleted; If-Match checks the version)",
        tags: ["fhir"],
        auth: session,
        params: idParams,
      },
      async ({ caller, request, reply, params }) => {
        const { versionId } = await records.delete(caller, supported(params.type), params.id, {
          ifMatch: ifMatchOf(request.headers["if-match"]),
        });
        return reply.status(204).header("etag", `W/"${versionId}"`).send();
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type/:id/_history",
        summary: "FHIR history",
        tags: ["fhir"],
        auth: session,
        params: idParams,
      },
      async ({ caller, reply, params }) => {
        return reply.type(FHIR_JSON).send(await records.history(caller, supported(params.type), params.id));
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/fhir/:type/:id/_history/:vid",
        summary: "FHIR vread",
        tags: ["fhir"],
        auth: session,
        params: idParams.extend({ vid: z.coerce.number().int().min(1) }),
      },
      async ({ caller, reply, params }) => {
        return reply
          .type(FHIR_JSON)
          .send(await records.vread(caller, supported(params.type), params.id, params.vid));
      },
    );
  };
}

/** Whether a `Prefer` header asks for lenient search handling (https://hl7.org/fhir/R4/search.html#errors). */
function preferLenient(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer === undefined ? [] : [prefer];
  return values.some((v) =>
    v.split(/[,;]/).some((part) => part.trim().toLowerCase().replace(/\s+/g, "") === "handling=lenient"),
  );
}
