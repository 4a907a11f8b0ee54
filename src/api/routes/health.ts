import type { FastifyInstance } from "fastify";
import { publicRoute, route } from "../routeDef.js";

/** What `/health` reports; each room provides its part. */
export interface HealthSources {
  chain(): Promise<{
    rpcUrl: string;
    /** The ledger's JSON-RPC URL for verifiers (for an embedded ledger, its loopback URL). */
    chainRpcUrl: string;
    embedded: boolean;
    chainId: number;
    blockNumber: number;
    contracts: Record<string, string>;
  }>;
  database(): Promise<{ engine: string; target: string }>;
  indexerLag(): Promise<number>;
  outboxDepth(): Promise<number>;
  /**
   * The audit log's state; `consistentWithAnchor: false` (the stored log no longer extends its last
   * anchor on the ledger, so the node refuses to anchor) makes the node degraded.
   */
  audit?(): Promise<{ consistentWithAnchor: boolean | null } & Record<string, unknown>>;
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
        summary: "Node health: ledger, database, indexer, outbox, audit log",
        tags: ["node"],
        auth: publicRoute,
      },
      async ({ reply }) => {
        const [chain, database, lag, depth, audit, extra] = await Promise.allSettled([
          sources.chain(),
          sources.database(),
          sources.indexerLag(),
          sources.outboxDepth(),
          sources.audit ? sources.audit() : Promise.resolve(undefined),
          sources.extra ? sources.extra() : Promise.resolve({}),
        ]);
        const ok =
          chain.status === "fulfilled" &&
          database.status === "fulfilled" &&
          !(audit.status === "fulfilled" && audit.value?.consistentWithAnchor === false);
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
          ...(sources.audit ? { audit: value(audit) } : {}),
        };
      },
    );
  };
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message.split("\n")[0]!.slice(0, 200) : "unavailable";
}
