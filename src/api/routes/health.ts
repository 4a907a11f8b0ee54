import type { FastifyInstance } from "fastify";
import { publicRoute, route } from "../routeDef.js";

/** What `/health` reports; each room provides its part. */
export interface HealthSources {
  chain(): Promise<{
    rpcUrl: string;
    embedded: boolean;
    chainId: number;
    blockNumber: number;
    contracts: Record<string, string>;
  }>;
  database(): Promise<{ engine: string; target: string }>;
  indexerLag(): Promise<number>;
  outboxDepth(): Promise<number>;
  extra?(): Promise<Record<string, unknown>>;
}

/** `GET /health`: 200 when the ledger and the database answer, 503 with the failing part otherwise. */
export function healthRoutes(sources: HealthSources) {
  return (app: FastifyInstance): void => {
    route(
      app,
      {
        method: "GET",
        url: "/health",
        summary: "Node health: ledger, database, indexer, outbox",
        tags: ["node"],
        auth: publicRoute,
      },
      async ({ reply }) => {
        const [chain, database, lag, depth, extra] = await Promise.allSettled([
          sources.chain(),
          sources.database(),
          sources.indexerLag(),
          sources.outboxDepth(),
          sources.extra ? sources.extra() : Promise.resolve({}),
        ]);
        const ok = chain.status === "fulfilled" && database.status === "fulfilled";
        const value = <T>(r: PromiseSettledResult<T>) =>
          r.status === "fulfilled" ? r.value : { error: describe(r.reason) };
        reply.status(ok ? 200 : 503);
        return {
          status: ok ? "ok" : "degraded",
          chain: value(chain),
          database: value(database),
          indexer: { lagBlocks: value(lag) },
          outbox: { depth: value(depth) },
          ...(extra.status === "fulfilled" ? extra.value : {}),
        };
      },
    );
  };
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message.split("\n")[0]!.slice(0, 200) : "unavailable";
}
