/**
 * Research studies over HTTP. Researchers of a research organization (at their own node) create,
 * list, show and close studies, ask for a differentially private feasibility count, and release;
 * patients discover the studies their record here meets, enroll with a signed research consent,
 * withdraw, and see their earnings. Other nodes of the consortium receive a study's definition and
 * release their own participants' part, node-signed (src/research/studyFederation.ts).
 */
import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { captureRawJsonBody } from "../../federation/signedRequest.js";
import { address, bytes32, signatureHex } from "../../model/schemas.js";
import { CATEGORIES } from "../../model/vocabulary.js";
import type { StudyFederation } from "../../research/studyFederation.js";
import type { StudyService } from "../../research/studyService.js";
import type { Store } from "../../store/database.js";
import { nodeSignatureAuth, sessionAuth } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface ResearchRouteDeps {
  studies: StudyService;
  federation: StudyFederation;
  store: Store;
  nodeKey: Hex;
}

const studyParams = z.object({ id: bytes32 });
const epsilon = z.number().positive().max(100);

/** The research consent as the patient's wallet signed it (src/research/researchConsent.ts). */
const consentSchema = z.strictObject({
  patient: address,
  studyId: bytes32,
  organization: bytes32,
  purpose: z.literal("HRESCH"),
  categories: z.array(z.enum(CATEGORIES)).min(1).max(CATEGORIES.length),
  payout: address,
  mayWithdraw: z.literal(true),
  issuedAt: z.number().int().nonnegative(),
});

/** `/research/...` routes. */
export function researchRoutes(deps: ResearchRouteDeps) {
  const session = sessionAuth(deps.nodeKey);
  const node = nodeSignatureAuth(deps.store.db);
  const { studies, federation } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    route(
      app,
      {
        method: "POST",
        url: "/research/studies",
        summary: "Create a study and register it on the ledger (researchers of a research organization)",
        tags: ["research"],
        auth: session,
        body: z.unknown(),
      },
      async ({ caller, body, reply }) => {
        const created = await studies.create(caller, body);
        // the other nodes check the definition against the ledger: share it once it is mined
        await studies.settled(created.outboxIds);
        const notShared = await federation.share(created.studyId);
        reply.status(201);
        return { ...created, notShared };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/research/studies",
        summary: "Your organization's studies (researchers)",
        tags: ["research"],
        auth: session,
      },
      async ({ caller }) => ({ studies: await studies.list(caller) }),
    );
    route(
      app,
      {
        method: "GET",
        url: "/research/studies/:id",
        summary: "One of your organization's studies, with its state on the ledger (researchers)",
        tags: ["research"],
        auth: session,
        params: studyParams,
      },
      async ({ caller, params }) => studies.show(caller, params.id),
    );
    route(
      app,
      {
        method: "POST",
        url: "/research/studies/:id/close",
        summary: "Close a study: no more enrollment or payouts, the rest of the escrow returns (researchers)",
        tags: ["research"],
        auth: session,
        params: studyParams,
      },
      async ({ caller, params }) => studies.close(caller, params.id),
    );
    route(
      app,
      {
        method: "POST",
        url: "/research/studies/:id/feasibility",
        summary: "A differentially private count of matching patients across the consortium (spends ε)",
        tags: ["research"],
        auth: session,
        params: studyParams,
        body: z.strictObject({ epsilon }),
      },
      async ({ caller, params, body }) => federation.feasibility(caller, params.id, body.epsilon),
    );
    route(
      app,
      {
        method: "POST",
        url: "/research/studies/:id/releases",
        summary:
          "Release the study across the consortium: each node's enrolled participants, de-identified or DP (researchers)",
        tags: ["research"],
        auth: session,
        params: studyParams,
        body: z.strictObject({ epsilon: epsilon.optional() }),
      },
      async ({ caller, params, body, reply }) => {
        const merged = await federation.release(caller, params.id, body.epsilon);
        reply.status(201);
        return merged;
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/research/studies/:id/releases",
        summary: "The releases this node made for a study of your organization (researchers)",
        tags: ["research"],
        auth: session,
        params: studyParams,
      },
      async ({ caller, params }) => ({ releases: await federation.localReleases(caller, params.id) }),
    );
    route(
      app,
      {
        method: "GET",
        url: "/patients/me/studies",
        summary:
          "Open studies your record at this node meets (nothing leaves the node), and your enrollments",
        tags: ["research"],
        auth: session,
      },
      async ({ caller, reply }) =>
        reply.header("cache-control", "no-store").send({
          matching: await studies.discover(caller),
          enrollments: await studies.enrollments(caller),
        }),
    );
    route(
      app,
      {
        method: "POST",
        url: "/patients/me/studies/:id/enroll",
        summary: "Enroll in a study with your signed research consent (EIP-712, purpose HRESCH)",
        tags: ["research"],
        auth: session,
        params: studyParams,
        body: z.strictObject({ consent: consentSchema, signature: signatureHex }),
      },
      async ({ caller, params, body, reply }) => {
        const enrolled = await studies.enroll(caller, params.id, body.consent, body.signature);
        reply.status(201);
        return enrolled;
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/patients/me/studies/:id/withdraw",
        summary: "Withdraw from a study: no further releases or payouts (earlier releases stay released)",
        tags: ["research"],
        auth: session,
        params: studyParams,
      },
      async ({ caller, params }) => studies.withdraw(caller, params.id),
    );
    route(
      app,
      {
        method: "GET",
        url: "/patients/me/earnings",
        summary: "Your research credits: balance and history at each study payout address",
        tags: ["research"],
        auth: session,
      },
      async ({ caller, reply }) =>
        reply.header("cache-control", "no-store").send(await studies.earnings(caller)),
    );
    // node-signed: the signature covers the exact body bytes, kept by a parser of this context only
    await app.register(async (signed) => {
      captureRawJsonBody(signed);
      route(
        signed,
        {
          method: "POST",
          url: "/federation/research/studies",
          summary: "A sponsor's node shares a study's definition (checked against the ledger; node-signed)",
          tags: ["research", "federation"],
          auth: node,
          body: z.strictObject({ studyId: bytes32, definition: z.unknown() }),
        },
        async ({ caller, body }) => {
          await studies.receive(caller.organization.id, body.studyId, body.definition);
          return { studyId: body.studyId };
        },
      );
      route(
        signed,
        {
          method: "POST",
          url: "/federation/research/feasibility",
          summary: "The sponsor's node asks this node's DP feasibility count for a study (node-signed)",
          tags: ["research", "federation"],
          auth: node,
          body: z.strictObject({ studyId: bytes32, epsilon }),
        },
        async ({ caller, body }) =>
          federation.answerFeasibility(caller.organization.id, body.studyId, body.epsilon),
      );
      route(
        signed,
        {
          method: "POST",
          url: "/federation/research/release",
          summary:
            "The sponsor's node asks this node's release of a study, signed by this node (node-signed)",
          tags: ["research", "federation"],
          auth: node,
          body: z.strictObject({
            studyId: bytes32,
            epsilon: epsilon.optional(),
            requestId: z.string().max(100),
          }),
        },
        async ({ caller, body }) =>
          federation.answerRelease(
            { account: caller.node, organization: caller.organization.id },
            body.studyId,
            body.epsilon,
          ),
      );
    });
  };
}
