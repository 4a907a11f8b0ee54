import type { FastifyInstance } from "fastify";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { CATEGORIES } from "../../model/vocabulary.js";
import { referralNoticeSchema, snomedCode } from "../../federation/referralView.js";
import type { ReferralService } from "../../federation/referrals.js";
import { captureRawJsonBody, verifyFastifyNodeRequest } from "../../federation/signedRequest.js";
import type { Store } from "../../store/database.js";
import { principalOf } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface ReferralRouteDeps {
  referrals: ReferralService;
  store: Store;
  nodeKey: Hex;
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed bytes32");

/**
 * Referrals: a practitioner refers a patient to another organization; the patient and both
 * organizations list them; the referring node's signed notice is received at
 * `POST /federation/referral-notice`.
 */
export function referralRoutes(deps: ReferralRouteDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    route(
      app,
      {
        method: "POST",
        url: "/referrals",
        summary:
          "Refer a patient to another organization (codes only; the patient accepts by granting consent)",
        tags: ["referrals"],
        auth: true,
        body: z.strictObject({
          patient: address,
          toOrganization: bytes32,
          categories: z.array(z.enum(CATEGORIES)).min(1).max(CATEGORIES.length),
          reasonCode: snomedCode.optional(),
        }),
      },
      async ({ request, body, reply }) => {
        const created = await deps.referrals.create(principalOf(request, deps.nodeKey), {
          patient: body.patient as Address,
          toOrganization: body.toOrganization.toLowerCase() as Hex,
          categories: body.categories,
          reasonCode: body.reasonCode,
        });
        reply.status(201);
        return created;
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/referrals",
        summary: "Referrals of you (patients) or from/to your organization (practitioners)",
        tags: ["referrals"],
        auth: true,
      },
      async ({ request }) => ({ referrals: await deps.referrals.list(principalOf(request, deps.nodeKey)) }),
    );
    // node-signed: the signature covers the exact body bytes, kept by a parser of this context only
    await app.register(async (signed) => {
      captureRawJsonBody(signed);
      route(
        signed,
        {
          method: "POST",
          url: "/federation/referral-notice",
          summary:
            "A referring organization's node tells this node that a referral was accepted (node-signed)",
          tags: ["referrals", "federation"],
          body: referralNoticeSchema,
        },
        async ({ request, body }) => {
          const node = await verifyFastifyNodeRequest(request, deps.store.db);
          return deps.referrals.receiveNotice(
            { account: node.node, organization: node.organization.id },
            body,
          );
        },
      );
    });
  };
}
