import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { referralNoticeSchema, snomedCode } from "../../federation/referralView.js";
import type { ReferralService } from "../../federation/referrals.js";
import { captureRawJsonBody } from "../../federation/signedRequest.js";
import { address, bytes32, categoryList } from "../../model/schemas.js";
import type { Store } from "../../store/database.js";
import { nodeSignatureAuth, sessionAuth } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface ReferralRouteDeps {
  referrals: ReferralService;
  store: Store;
  nodeKey: Hex;
}

/**
 * Referrals: a practitioner refers a patient to another organization; the patient and both
 * organizations list them; the referring node's signed notice is received at
 * `POST /federation/referral-notice`.
 */
export function referralRoutes(deps: ReferralRouteDeps) {
  const session = sessionAuth(deps.nodeKey);
  const node = nodeSignatureAuth(deps.store.db);
  return async (app: FastifyInstance): Promise<void> => {
    route(
      app,
      {
        method: "POST",
        url: "/referrals",
        summary:
          "Refer a patient to another organization (codes only; the patient accepts by granting consent)",
        tags: ["referrals"],
        auth: session,
        body: z.strictObject({
          patient: address,
          toOrganization: bytes32,
          categories: categoryList,
          reasonCode: snomedCode.optional(),
        }),
      },
      async ({ caller, body, reply }) => {
        const created = await deps.referrals.create(caller, {
          patient: body.patient,
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
        auth: session,
      },
      async ({ caller }) => ({ referrals: await deps.referrals.list(caller) }),
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
          auth: node,
          body: referralNoticeSchema,
        },
        async ({ caller, body }) =>
          deps.referrals.receiveNotice({ account: caller.node, organization: caller.organization.id }, body),
      );
    });
  };
}
