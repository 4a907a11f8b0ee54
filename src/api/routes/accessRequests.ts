import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { MAX_REQUEST_MESSAGE, type ConsentRequests } from "../../consent/consentRequests.js";
import { address, categoryList, purposeOfUse } from "../../model/schemas.js";
import { sessionAuth } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface AccessRequestDeps {
  requests: ConsentRequests;
  nodeKey: Hex;
}

const idParams = z.object({ id: z.uuid() });
const instant = z.iso.datetime({ offset: true }).transform((s) => Math.floor(Date.parse(s) / 1000));

/**
 * Access requests: a practitioner asks a patient for a grant; the patient lists them, answers one
 * with the grant they signed (prefilled from `proposedGrant`) or declines; the requester follows
 * its state or withdraws it.
 */
export function accessRequestRoutes(deps: AccessRequestDeps) {
  const session = sessionAuth(deps.nodeKey);
  const { requests } = deps;
  return (app: FastifyInstance): void => {
    route(
      app,
      {
        method: "POST",
        url: "/access-requests",
        summary:
          "Ask a patient for a grant (categories, purposes, period, message); the same answer for any account",
        tags: ["consent"],
        auth: session,
        body: z.strictObject({
          patient: address,
          categories: categoryList,
          purposes: z.array(purposeOfUse).min(1).max(8).default(["TREAT"]),
          notBefore: instant.optional(),
          notAfter: instant,
          message: z.string().max(MAX_REQUEST_MESSAGE).default(""),
        }),
      },
      async ({ caller, body, reply }) => {
        const created = await requests.create(caller, body.patient, {
          categories: body.categories,
          purposes: body.purposes,
          notBefore: body.notBefore ?? Math.floor(Date.now() / 1000),
          notAfter: body.notAfter,
          message: body.message,
        });
        reply.status(201);
        return created;
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/access-requests",
        summary: "The access requests you made, newest first, with their state",
        tags: ["consent"],
        auth: session,
      },
      async ({ caller }) => ({ requests: await requests.mine(caller) }),
    );
    route(
      app,
      {
        method: "GET",
        url: "/access-requests/:id",
        summary: "One access request you made or that names you as its patient",
        tags: ["consent"],
        auth: session,
        params: idParams,
      },
      async ({ caller, params }) => requests.get(caller, params.id),
    );
    route(
      app,
      {
        method: "DELETE",
        url: "/access-requests/:id",
        summary: "Withdraw a pending access request you made",
        tags: ["consent"],
        auth: session,
        params: idParams,
      },
      async ({ caller, params }) => requests.withdraw(caller, params.id),
    );
    route(
      app,
      {
        method: "GET",
        url: "/patients/me/access-requests",
        summary: "Access requests to you: pending ones (default) or all, newest first",
        tags: ["patient"],
        auth: session,
        query: z.strictObject({ status: z.enum(["pending", "all"]).optional() }),
      },
      async ({ caller, query }) => ({
        requests: await requests.forPatient(caller, query.status ?? "pending"),
      }),
    );
    route(
      app,
      {
        method: "POST",
        url: "/patients/me/access-requests/:id/grant",
        summary:
          "Answer an access request with the grant you signed (EIP-712, as POST /consents takes it); relayed to the ledger",
        tags: ["patient"],
        auth: session,
        params: idParams,
        query: z.strictObject({ wait: z.enum(["true", "false"]).optional() }),
      },
      async ({ caller, params, query, body, reply }) => {
        const answered = await requests.grant(caller, params.id, body, { wait: query.wait === "true" });
        reply.status(answered.status === "confirmed" ? 201 : 202);
        return answered;
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/patients/me/access-requests/:id/decline",
        summary: "Decline an access request",
        tags: ["patient"],
        auth: session,
        params: idParams,
      },
      async ({ caller, params }) => requests.decline(caller, params.id),
    );
  };
}
