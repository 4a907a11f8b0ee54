import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { cardQrPngs, cardQrSvgs } from "../../passport/cardSigner.js";
import type { PassportService } from "../../passport/passportService.js";
import { sessionAuth } from "../authenticate.js";
import { publicRoute, route } from "../routeDef.js";

export interface PassportRouteDeps {
  passport: PassportService;
  nodeKey: Hex;
  /** This node's organization (the issuer the console manages). */
  organizationId: Hex;
}

const VERIFY_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * The digital health passport over HTTP: a patient (or a practitioner for a patient who asked)
 * issues and revokes SMART Health Cards; anyone verifies cards against the issuers on the ledger;
 * the issuer's `/.well-known/jwks.json` and CRLs, and the ledger cache offline verifiers keep.
 */
export function passportRoutes(deps: PassportRouteDeps) {
  const session = sessionAuth(deps.nodeKey);
  return async (app: FastifyInstance): Promise<void> => {
    route(
      app,
      {
        method: "POST",
        url: "/passport/cards",
        summary: "Issue a SMART Health Card from the patient's immunizations or laboratory results",
        tags: ["passport"],
        auth: session,
        body: z.strictObject({
          type: z.enum(["immunization", "laboratory"]),
          patient: z.string().min(1).max(64).optional(),
          images: z.boolean().optional(),
        }),
      },
      async ({ caller, body, reply }) => {
        const card = await deps.passport.issue(caller, { patientId: body.patient, type: body.type });
        reply.status(201);
        if (body.images !== true) return card;
        const [pngs, svgs] = await Promise.all([cardQrPngs(card), cardQrSvgs(card)]);
        return { ...card, qrPng: pngs.map((png) => png.toString("base64")), qrSvg: svgs };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/passport/cards",
        summary: "The cards issued for a patient (yours, or ?patient= for practitioners)",
        tags: ["passport"],
        auth: session,
        query: z.object({ patient: z.string().min(1).max(64).optional() }),
      },
      async ({ caller, query }) => ({ cards: await deps.passport.cards(caller, query.patient) }),
    );
    route(
      app,
      {
        method: "POST",
        url: "/passport/cards/:cardId/revoke",
        summary: "Revoke a card: its rid goes on the issuer's revocation list on the ledger",
        tags: ["passport"],
        auth: session,
        params: z.object({ cardId: z.uuid() }),
      },
      async ({ caller, params, reply }) => {
        reply.status(202);
        return deps.passport.revokeCard(caller, params.cardId);
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/passport/eligible",
        summary: "The patient's immunizations and laboratory results a card of each type would hold",
        tags: ["passport"],
        auth: session,
        query: z.object({ patient: z.string().min(1).max(64).optional() }),
      },
      async ({ caller, query }) => deps.passport.eligible(caller, query.patient),
    );
    route(
      app,
      {
        method: "GET",
        url: "/passport/issuer",
        summary:
          "Issuer console (node operator): keys here and on the ledger, CRLs, issued cards, ledger writes",
        tags: ["passport"],
        auth: session,
      },
      async ({ caller }) => deps.passport.issuerState(caller),
    );
    route(
      app,
      {
        method: "POST",
        url: "/passport/issuer/register",
        summary: "Register this node's issuer URL and signing key on the CredentialRegistry (node operator)",
        tags: ["passport"],
        auth: session,
      },
      async ({ caller, reply }) => {
        reply.status(202);
        return deps.passport.admin(caller).register();
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/passport/issuer/rotate-key",
        summary: "Sign new cards with a new key; the old one is retired on the ledger (node operator)",
        tags: ["passport"],
        auth: session,
      },
      async ({ caller, reply }) => {
        reply.status(202);
        return deps.passport.admin(caller).rotate();
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/passport/issuer/keys/:kid/revoke",
        summary: "Revoke an issuer key: no card it signed verifies any more (node operator)",
        tags: ["passport"],
        auth: session,
        params: z.object({ kid: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }),
      },
      async ({ caller, params, reply }) => {
        reply.status(202);
        return deps.passport.admin(caller).revokeKey(params.kid);
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/passport/issuer/approve",
        summary:
          "Consortium governor's node: let this organization issue health cards whatever its kind (node operator)",
        tags: ["passport"],
        auth: session,
      },
      async ({ caller, reply }) => {
        reply.status(202);
        return deps.passport.admin(caller).approve(deps.organizationId, true);
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/passport/verify",
        summary:
          "Verify shc:/ text, a JWS, a .smart-health-card file, HC1: text or QR images against the ledger's issuers",
        tags: ["passport"],
        auth: publicRoute,
        bodyLimit: VERIFY_BODY_LIMIT,
        body: z.strictObject({
          credential: z.string().max(1_000_000).optional(),
          qrPng: z.array(z.string().max(2_000_000)).max(20).optional(),
          trust: z
            .array(z.strictObject({ name: z.string().max(200), content: z.string().max(1_000_000) }))
            .max(20)
            .optional(),
          now: z.iso.datetime({ offset: true }).optional(),
        }),
      },
      async ({ body }) => {
        const inputs: Array<string | Uint8Array> = [
          ...(body.credential === undefined ? [] : [body.credential]),
          ...(body.qrPng ?? []).map((png) => Buffer.from(png, "base64")),
        ];
        const reports = await deps.passport.verify(
          inputs,
          body.trust,
          body.now === undefined ? new Date() : new Date(body.now),
        );
        return { valid: reports.length > 0 && reports.every((report) => report.valid), reports };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/passport/ledger-cache",
        summary: "The issuers, keys and revocation lists on the ledger, for offline verifiers",
        tags: ["passport"],
        auth: publicRoute,
      },
      async () => deps.passport.ledgerCache(true),
    );
    route(
      app,
      {
        method: "GET",
        url: "/.well-known/jwks.json",
        summary: "This issuer's SMART Health Card keys (from the ledger), with crlVersion",
        tags: ["passport"],
        auth: publicRoute,
      },
      async ({ reply }) => {
        void reply.header("access-control-allow-origin", "*");
        return deps.passport.jwks();
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/.well-known/crl/:file",
        summary: "The revocation list of one of this issuer's keys (from the ledger)",
        tags: ["passport"],
        auth: publicRoute,
        params: z.object({ file: z.string().regex(/^[A-Za-z0-9_-]{43}\.json$/) }),
      },
      async ({ params, reply }) => {
        void reply.header("access-control-allow-origin", "*");
        return deps.passport.crl(params.file.slice(0, -".json".length));
      },
    );
  };
}
