import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import type { Kysely } from "kysely";
import { DIRECTORY_KINDS, DIRECTORY_MAX_PAGE, searchDirectory } from "../../chain/participantDirectory.js";
import type { Schema } from "../../store/schema.js";
import { sessionAuth } from "../authenticate.js";
import { route } from "../routeDef.js";

/**
 * `GET /registry/search`: the consortium's organizations, practitioners and (asked for by
 * `kind=role`) roles, for the share picker. Roles are left out unless asked for, so a picker that
 * knows only practitioners and organizations never offers one as an organization.
 */
export function registryRoutes(deps: { db: Kysely<Schema>; nodeKey: Hex }) {
  const session = sessionAuth(deps.nodeKey);
  return (app: FastifyInstance): void => {
    route(
      app,
      {
        method: "GET",
        url: "/registry/search",
        summary:
          "Search the registry's active organizations, practitioners and roles by name prefix (paged; never patients)",
        tags: ["consent"],
        auth: session,
        query: z.strictObject({
          q: z.string().max(100).default(""),
          kind: z.union([z.enum(DIRECTORY_KINDS), z.array(z.enum(DIRECTORY_KINDS)).max(3)]).optional(),
          _count: z.coerce.number().int().min(1).max(DIRECTORY_MAX_PAGE).default(20),
          _offset: z.coerce.number().int().min(0).max(100_000).default(0),
        }),
      },
      async ({ query, reply }) => {
        const kinds =
          query.kind === undefined ? (["organization", "practitioner"] as const) : [query.kind].flat();
        const found = await searchDirectory(deps.db, {
          q: query.q,
          kinds,
          limit: query._count,
          offset: query._offset,
        });
        return reply.header("cache-control", "private, max-age=30").send(found);
      },
    );
  };
}
