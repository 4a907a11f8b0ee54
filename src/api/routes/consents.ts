import type { FastifyInstance } from "fastify";
import type { Address, Hex } from "viem";
import { z } from "zod";
import type { Principal } from "../../model/principal.js";
import type { BreakGlassSessions } from "../../consent/breakGlass.js";
import type { PatientNotifications } from "../../consent/notifications.js";
import type { PatientSettingsStore } from "../../consent/patientSettings.js";
import { toFhirConsent } from "../../consent/consentResource.js";
import type { ConsentService } from "../../consent/consentService.js";
import { actionsOf, categoriesOf, purposesOf } from "../../model/vocabulary.js";
import { type Grant } from "../../model/consentTypes.js";
import { BaseError } from "../../errors/BaseError.js";
import { address, ADDRESS_PATTERN } from "../../model/schemas.js";
import { sessionAuth } from "../authenticate.js";
import { publicRoute, route } from "../routeDef.js";
import { sharingSummary } from "../../consent/sharingSummary.js";
import { purposeOfUse } from "../../model/schemas.js";
import type { ConsentChangeStreams } from "./consentChangeStream.js";
import type { NotificationStreams } from "./notificationStream.js";

export interface ConsentDeps {
  consents: ConsentService;
  settings: PatientSettingsStore;
  breakGlass: Pick<BreakGlassSessions, "open">;
  notifications: Pick<PatientNotifications, "list" | "since" | "markRead">;
  /** Live notification streams (`GET /patients/me/notifications/stream`). */
  streams: NotificationStreams;
  /** Live grant changes for grantees (`GET /consents/shared-with-me/stream`). */
  changes: ConsentChangeStreams;
  nodeKey: Hex;
}

/** A grant as the API shows it: friendly names beside the on-chain masks. */
export function grantView(grant: Readonly<Grant>): object {
  return {
    grantId: grant.grantId,
    patient: grant.patient,
    grantee: { kind: grant.granteeKind, id: grant.grantee, role: grant.role },
    categories: categoriesOf(grant.categories),
    purposes: purposesOf(grant.purposes),
    actions: actionsOf(grant.actions),
    notBefore: new Date(grant.notBefore * 1000).toISOString(),
    notAfter: new Date(grant.notAfter * 1000).toISOString(),
    revokedAt: grant.revokedAt === undefined ? null : new Date(grant.revokedAt * 1000).toISOString(),
    fhir: toFhirConsent(grant),
  };
}

/** Consent submission (patient-signed), listing, "shared with me", settings and break-glass. */
export function consentRoutes(deps: ConsentDeps) {
  const session = sessionAuth(deps.nodeKey);
  return (app: FastifyInstance): void => {
    app.addHook("preClose", async () => {
      deps.streams.closeAll();
      deps.changes.closeAll();
    });
    route(
      app,
      {
        method: "GET",
        url: "/consents/domain",
        auth: publicRoute,
        summary: "EIP-712 domain to sign consents against",
        tags: ["consent"],
      },
      async () => deps.consents.domain,
    );
    route(
      app,
      {
        method: "GET",
        url: "/consents/nonce/:patient",
        auth: publicRoute,
        summary: "Nonce the patient's next signed consent message must carry",
        tags: ["consent"],
        params: z.object({ patient: address }),
      },
      async ({ params }) => ({
        nonce: (await deps.consents.nextNonce(params.patient)).toString(),
      }),
    );
    route(
      app,
      {
        method: "POST",
        url: "/consents",
        summary: "Submit a patient-signed EIP-712 Grant for relaying to the ledger",
        tags: ["consent"],
        // no session: the body carries the patient's EIP-712 signature, which the service checks
        auth: publicRoute,
        query: z.object({ wait: z.enum(["true", "false"]).optional() }),
      },
      async ({ body, query, reply }) => {
        const submitted = await deps.consents.submitGrant(body, { wait: query.wait === "true" });
        reply.status(submitted.status === "confirmed" ? 201 : 202);
        return submitted;
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/consents/revoke",
        summary: "Submit a patient-signed EIP-712 Revoke",
        tags: ["consent"],
        auth: publicRoute,
        query: z.object({ wait: z.enum(["true", "false"]).optional() }),
      },
      async ({ body, query, reply }) => {
        const submitted = await deps.consents.submitRevoke(body, { wait: query.wait === "true" });
        reply.status(submitted.status === "confirmed" ? 200 : 202);
        return submitted;
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/consents",
        summary: "Your consents (patients)",
        tags: ["consent"],
        auth: session,
        query: z.object({ patient: address.optional() }),
      },
      async ({ caller, query }) => ({
        grants: deps.consents.listForPatient(caller, query.patient ?? caller.account).map(grantView),
      }),
    );
    route(
      app,
      {
        method: "GET",
        url: "/consents/shared-with-me",
        summary: "Active grants naming you, your organization or your role",
        tags: ["consent"],
        auth: session,
      },
      async ({ caller }) => ({ grants: deps.consents.sharedWith(caller).map(grantView) }),
    );
    route(
      app,
      {
        method: "GET",
        url: "/consents/shared-with-me/stream",
        summary:
          "Server-Sent Events: a grant naming you was revoked or started to count (re-read what you show)",
        tags: ["consent"],
        auth: session,
      },
      async ({ caller, request, reply }) => deps.changes.serve(request, reply, caller),
    );
    route(
      app,
      {
        method: "GET",
        url: "/consents/sharing",
        summary:
          "Which categories a patient's grants share with you for a purpose, and which they do not (from the grants only, never from data)",
        tags: ["consent"],
        auth: session,
        query: z.strictObject({ patient: address, purpose: purposeOfUse.optional() }),
      },
      async ({ caller, query }) =>
        sharingSummary(deps.consents, caller, query.patient, query.purpose ?? caller.purpose),
    );

    const settingsBody = z.strictObject({
      breakGlassAllowed: z.boolean(),
      notify: z
        .strictObject({ breakGlass: z.boolean(), denials: z.boolean(), reads: z.boolean() })
        .optional(),
    });
    route(
      app,
      {
        method: "GET",
        url: "/patients/me/settings",
        summary: "Your privacy settings",
        tags: ["patient"],
        auth: session,
      },
      async ({ caller }) => deps.settings.ownSettings(caller),
    );
    route(
      app,
      {
        method: "PUT",
        url: "/patients/me/settings",
        summary: "Change your privacy settings",
        tags: ["patient"],
        auth: session,
        body: settingsBody,
      },
      async ({ caller, body }) => deps.settings.changeOwnSettings(caller, body),
    );
    route(
      app,
      {
        method: "POST",
        url: "/break-glass",
        summary:
          "Open an emergency (break-the-glass) session on a patient; purpose ETREAT, flagged to the patient",
        tags: ["consent"],
        auth: session,
        body: z.strictObject({ patient: address, reason: z.string().min(3).max(500) }),
      },
      async ({ caller, body, reply }) => {
        const opened = await deps.breakGlass.open(caller, body.patient, body.reason);
        reply.status(201);
        return { id: opened.id, expiresAt: new Date(opened.expiresAt * 1000).toISOString() };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/patients/me/notifications",
        summary:
          "Your notifications, newest first: break-glass flags, and the accesses and refusals your settings ask for (one per request)",
        tags: ["patient"],
        auth: session,
        query: z.strictObject({ _count: z.coerce.number().int().min(1).max(500).optional() }),
      },
      async ({ caller, query }) => ({
        notifications: await deps.notifications.list(caller.account, query._count ?? 100),
      }),
    );
    route(
      app,
      {
        method: "GET",
        url: "/patients/me/notifications/stream",
        summary: "Your new notifications as Server-Sent Events (Last-Event-ID resumes; heartbeat every 15 s)",
        tags: ["patient"],
        auth: session,
      },
      async ({ caller, request, reply }) => deps.streams.serve(request, reply, caller.account),
    );
    route(
      app,
      {
        method: "POST",
        url: "/patients/me/notifications/read",
        summary: "Mark your notifications read: the given ids, or all",
        tags: ["patient"],
        auth: session,
        body: z.union([
          z.strictObject({ ids: z.array(z.uuid()).min(1).max(500) }),
          z.strictObject({ all: z.literal(true) }),
        ]),
      },
      async ({ caller, body }) => ({
        marked: await deps.notifications.markRead(caller.account, "ids" in body ? body.ids : "all"),
      }),
    );
  };
}

/** `GET /fhir/Consent?patient=<account>`: the patient's grants as FHIR Consent resources. */
export function consentView(consents: ConsentService) {
  return async (
    principal: Principal,
    query: Record<string, string | string[] | undefined>,
  ): Promise<unknown> => {
    const raw = query.patient;
    const patient = (Array.isArray(raw) ? raw[0] : raw) ?? principal.account;
    if (!ADDRESS_PATTERN.test(patient))
      throw new BaseError("invalid", "Consent search needs patient=<account address>", {
        expression: "patient",
      });
    const grants = consents.listForPatient(principal, patient as Address);
    return {
      resourceType: "Bundle",
      type: "searchset",
      total: grants.length,
      entry: grants.map((g) => {
        const resource = toFhirConsent(g);
        return { fullUrl: `Consent/${resource.id}`, resource, search: { mode: "match" } };
      }),
    };
  };
}
