import type { FastifyInstance } from "fastify";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { CATEGORIES } from "../../model/vocabulary.js";
import { streamSubscription } from "../../federation/subscriptionStream.js";
import { CHANNELS, type SubscriptionService } from "../../federation/subscriptions.js";
import { principalOf } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface SubscriptionRouteDeps {
  subscriptions: SubscriptionService;
  nodeKey: Hex;
  /** SSE heartbeat interval (default 15 s). */
  heartbeatMs?: number;
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");
const idParams = z.object({ id: z.uuid() });

/**
 * Subscriptions to a patient's new data: create (consent-checked, purpose from
 * `x-purpose-of-use`), list yours, end one, and stream one as Server-Sent Events.
 */
export function subscriptionRoutes(deps: SubscriptionRouteDeps) {
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
        auth: true,
        body: z.strictObject({
          patient: address,
          categories: z.array(z.enum(CATEGORIES)).min(1).max(CATEGORIES.length),
          channel: z.enum(CHANNELS),
          endpoint: z
            .url({ protocol: /^https?$/ })
            .max(2000)
            .optional(),
        }),
      },
      async ({ request, body, reply }) => {
        const created = await deps.subscriptions.create(principalOf(request, deps.nodeKey), {
          patient: body.patient as Address,
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
        auth: true,
      },
      async ({ request }) => ({
        subscriptions: await deps.subscriptions.list(principalOf(request, deps.nodeKey)),
      }),
    );
    route(
      app,
      {
        method: "DELETE",
        url: "/subscriptions/:id",
        summary: "End one of your subscriptions",
        tags: ["subscriptions"],
        auth: true,
        params: idParams,
      },
      async ({ request, params }) => deps.subscriptions.cancel(principalOf(request, deps.nodeKey), params.id),
    );
    route(
      app,
      {
        method: "GET",
        url: "/subscriptions/:id/events",
        summary: "Server-Sent Events stream of a subscription (Last-Event-ID resumes; heartbeat every 15 s)",
        tags: ["subscriptions"],
        auth: true,
        params: idParams,
      },
      async ({ request, reply, params }) => {
        await streamSubscription({
          request,
          reply,
          subscriptions: deps.subscriptions,
          principal: principalOf(request, deps.nodeKey),
          id: params.id,
          ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}),
        });
        return reply;
      },
    );
  };
}
