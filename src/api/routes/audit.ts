import type { FastifyInstance } from "fastify";
import { bytesToHex, type Address, type Hex } from "viem";
import { z } from "zod";
import type { Principal } from "../../model/principal.js";
import type { AccessLog } from "../../audit/accessLog.js";
import type { AuditLog } from "../../audit/auditLog.js";
import { toAuditEvent } from "../../audit/auditEventView.js";
import { BaseError } from "../../errors/BaseError.js";
import { ADDRESS_PATTERN } from "../../model/schemas.js";
import { sessionAuth } from "../authenticate.js";
import { publicRoute, route } from "../routeDef.js";

export interface AuditDeps {
  log: AuditLog;
  accessLog: AccessLog;
  nodeKey: Hex;
  node: Address;
  auditAnchor: Address;
  chainId: number;
}

const page = z.object({
  afterIndex: z.coerce.number().int().min(-1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  /** Pins the anchored size across pages (the first page's `anchoredSize`). */
  anchoredSize: z.coerce.number().int().min(1).optional(),
});

/** The access log and its proofs: `/audit/me`, single proofs, tree heads, consistency proofs. */
export function auditRoutes(deps: AuditDeps) {
  const session = sessionAuth(deps.nodeKey);
  return (app: FastifyInstance): void => {
    route(
      app,
      {
        method: "GET",
        url: "/audit/me",
        summary:
          "Every access-log entry about you, each with an inclusion proof to an anchored root, and the patient-map proof of their number",
        tags: ["audit"],
        auth: session,
        query: page,
      },
      async ({ caller, query }) => {
        const result = await deps.accessLog.forPatient(caller, caller.account, {
          ...(query.afterIndex !== undefined ? { afterIndex: query.afterIndex } : {}),
          ...(query.limit !== undefined ? { limit: query.limit } : {}),
          ...(query.anchoredSize !== undefined ? { anchoredSize: query.anchoredSize } : {}),
        });
        return { node: deps.node, auditAnchor: deps.auditAnchor, chainId: deps.chainId, ...result };
      },
    );

    route(
      app,
      {
        method: "GET",
        url: "/audit/entries/:index/proof",
        summary: "Inclusion proof of one of your entries to an anchored tree head",
        tags: ["audit"],
        auth: session,
        params: z.object({ index: z.coerce.number().int().min(0) }),
        query: z.object({ treeSize: z.coerce.number().int().min(1).optional() }),
      },
      async ({ caller, params, query }) =>
        deps.accessLog.proofForCaller(caller, params.index, query.treeSize),
    );

    route(
      app,
      {
        method: "GET",
        url: "/audit/tree-heads",
        summary: "This node's signed tree heads and their anchoring status",
        tags: ["audit"],
        auth: publicRoute,
        query: z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
      },
      async ({ query }) => ({
        node: deps.node,
        size: deps.log.size(),
        heads: await deps.log.treeHeads({ limit: query.limit ?? 100 }),
      }),
    );

    route(
      app,
      {
        method: "GET",
        url: "/audit/consistency",
        summary: "Consistency proof between two tree sizes (RFC 9162 section 2.1.4)",
        tags: ["audit"],
        auth: publicRoute,
        query: z.object({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) }),
      },
      async ({ query }) => {
        if (query.from > query.to) throw new BaseError("invalid", "from must not exceed to");
        const proof = await deps.log.consistencyProof(query.from, query.to);
        return {
          from: query.from,
          to: query.to,
          fromRoot: bytesToHex(await deps.log.root(query.from)),
          toRoot: bytesToHex(await deps.log.root(query.to)),
          proof: proof.map((p) => bytesToHex(p)),
        };
      },
    );
  };
}

/** `GET /fhir/AuditEvent?patient=<account>`: the AuditEvent view, enforced like any resource (a patient sees their own). */
export function auditEventView(deps: AuditDeps) {
  return async (
    principal: Principal,
    query: Record<string, string | string[] | undefined>,
  ): Promise<unknown> => {
    const raw = query.patient ?? query.subject;
    const patient = (Array.isArray(raw) ? raw[0] : raw) ?? principal.account;
    if (!ADDRESS_PATTERN.test(patient))
      throw new BaseError("invalid", "AuditEvent search needs patient=<account address>", {
        expression: "patient",
      });
    const rawCount = Array.isArray(query._count) ? query._count[0] : query._count;
    const count = rawCount === undefined ? 100 : Number(rawCount);
    if (rawCount !== undefined && (!/^\d{1,4}$/.test(rawCount) || count < 1 || count > 1000))
      throw new BaseError("invalid", "invalid value for search parameter '_count'", { expression: "_count" });
    const { items } = await deps.accessLog.forPatient(principal, patient as Address, { limit: count });
    return {
      resourceType: "Bundle",
      type: "searchset",
      total: items.length,
      entry: items.map((i) => ({
        fullUrl: `AuditEvent/${i.index}`,
        resource: toAuditEvent(i.index, i.entry, i.opening),
        search: { mode: "match" },
      })),
    };
  };
}
