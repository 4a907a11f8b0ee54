import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { streamSubscription } from "../../federation/subscriptionStream.js";
import { CHANNELS, type SubscriptionService } from "../../federation/subscriptions.js";
import { address, categoryList, httpUrl } from "../../model/schemas.js";
import { sessionAuth } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface SubscriptionRouteDeps {
  subscriptions: SubscriptionService;
  nodeKey: Hex;
  /** SSE heartbeat interval (default 15 s). */
  heartbeatMs?: number;
}

const idParams = z.object({ id: z.uuid() });

/**
 * Subscriptions to a patient's new data: create (consent-checked, purpose from
 * `x-purpose-of-use`), list yours, end one, and stream one as Server-Sent Events.
 */
export function subscriptionRoutes(deps: SubscriptionRouteDeps) {
  const session = sessionAuth(deps.nodeKey);
  return (app: FastifyInstance): void => {
    app.addHook("preClose", async () => deps.subscriptions.closeStreams());
    route(
      app,
      {
        method: "POST",
        url: "/subscriptions",
        summary:
          "Subscribe to a patient's new data by category (notifications carry references only; read them through /fhir)",
        tags: ["subscriptions"],
        auth: session,
        body: z.strictObject({
          patient: address,
          categories: categoryList,
          channel: z.enum(CHANNELS),
          endpoint: httpUrl.optional(),
        }),
      },
      async ({ caller, body, reply }) => {
        const created = await deps.subscriptions.create(caller, {
          patient: body.patient,
          categories: body.categories,
          channel: body.channel,
          endpoint: body.endpoint,
        });
        reply.status(201);
        return created;
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/subscriptions",
        summary: "Your subscriptions",
        tags: ["subscriptions"],
        auth: session,
      },
      async ({ caller }) => ({ subscriptions: await deps.subscriptions.list(caller) }),
    );
    route(
      app,
      {
        method: "DELETE",
        url: "/subscriptions/:id",
        summary: "End one of your subscriptions",
        tags: ["subscriptions"],
        auth: session,
        params: idParams,
      },
      async ({ caller, params }) => deps.subscriptions.cancel(caller, params.id),
    );
    route(
      app,
      {
        method: "GET",
        url: "/subscriptions/:id/events",
        summary: "Server-Sent Events stream of a subscription (Last-Event-ID resumes; heartbeat every 15 s)",
        tags: ["subscriptions"],
        auth: session,
        params: idParams,
      },
      async ({ caller, request, reply, params }) => {
        await streamSubscription({
          request,
          reply,
          subscriptions: deps.subscriptions,
          principal: caller,
          id: params.id,
          ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}),
        });
        return reply;
      },
    );
  };
}
