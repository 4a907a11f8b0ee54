import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { login } from "../../access/resolvePrincipal.js";
import type { SiweChallenges } from "../../access/siwe.js";
import type { Store } from "../../store/database.js";
import { PRACTITIONER_ROLES } from "../../model/vocabulary.js";
import { principalOf } from "../authenticate.js";
import { route } from "../routeDef.js";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");

export interface AuthDeps {
  challenges: SiweChallenges;
  store: Store;
  nodeKey: Hex;
}

/** Sign-In with Ethereum (EIP-4361): challenge, then verify for a short-lived session token. */
export function authRoutes(deps: AuthDeps) {
  return (app: FastifyInstance): void => {
    route(
      app,
      {
        method: "POST",
        url: "/auth/challenge",
        summary: "Get a SIWE message to sign",
        tags: ["auth"],
        body: z.strictObject({ address }),
      },
      async ({ body }) => {
        const c = await deps.challenges.issue(body.address as Hex);
        return { message: c.message, nonce: c.nonce, expiresAt: c.expiresAt.toISOString() };
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/auth/verify",
        summary: "Exchange a signed SIWE message for a session token",
        tags: ["auth"],
        body: z.strictObject({
          message: z.string().min(1).max(4096),
          signature: z.string().regex(/^0x[0-9a-fA-F]+$/, "must be a 0x-prefixed hex signature"),
          as: z
            .strictObject({
              kind: z.enum(["patient", "practitioner", "node"]).optional(),
              organization: z
                .string()
                .regex(/^0x[0-9a-fA-F]{64}$/)
                .optional(),
              role: z.enum(PRACTITIONER_ROLES).optional(),
            })
            .optional(),
        }),
      },
      async ({ body }) => {
        const result = await login({
          challenges: deps.challenges,
          db: deps.store.db,
          message: body.message,
          signature: body.signature as Hex,
          nodeKey: deps.nodeKey,
          ...(body.as ? { as: body.as as never } : {}),
        });
        return { token: result.token, expiresAt: result.expiresAt.toISOString(), session: result.session };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/auth/me",
        summary: "Who the session token says you are",
        tags: ["auth"],
        auth: true,
      },
      async ({ request }) => {
        const p = principalOf(request, deps.nodeKey);
        return {
          account: p.account,
          kind: p.kind,
          organization: p.organization,
          role: p.role,
          purpose: p.purpose,
        };
      },
    );
  };
}
