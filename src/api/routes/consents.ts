import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Address, Hex } from "viem";
import { z } from "zod";
import type { ConsentGate } from "../../consent/consentGate.js";
import { toFhirConsent } from "../../consent/consentResource.js";
import type { ConsentService } from "../../consent/consentService.js";
import { actionsOf, categoriesOf, purposesOf } from "../../model/vocabulary.js";
import { type Grant } from "../../model/consentTypes.js";
import { BaseError } from "../../errors/BaseError.js";
import type { Outbox } from "../../chain/outbox.js";
import { principalOf } from "../authenticate.js";
import { route } from "../routeDef.js";

export interface ConsentDeps {
  consents: ConsentService;
  gate: ConsentGate;
  outbox: Outbox;
  nodeKey: Hex;
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");

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
  const who = (request: Parameters<typeof principalOf>[0]) => principalOf(request, deps.nodeKey);
  return (app: FastifyInstance): void => {
    route(
      app,
      {
        method: "GET",
        url: "/consents/domain",
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
        summary: "Nonce the patient's next signed consent message must carry",
        tags: ["consent"],
        params: z.object({ patient: address }),
      },
      async ({ params }) => ({
        nonce: (await deps.consents.nextNonce(params.patient as Address)).toString(),
      }),
    );
    route(
      app,
      {
        method: "POST",
        url: "/consents",
        summary: "Submit a patient-signed EIP-712 Grant for relaying to the ledger",
        tags: ["consent"],
        query: z.object({ wait: z.enum(["true", "false"]).optional() }),
      },
      async ({ body, query, reply }) => {
        const submitted = await deps.consents.submitGrant(body);
        if (query.wait === "true") await settle(deps, submitted.outboxId);
        const row = await deps.outbox.get(submitted.outboxId);
        reply.status(row?.status === "confirmed" ? 201 : 202);
        return { ...submitted, status: row?.status === "confirmed" ? "confirmed" : submitted.status };
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/consents/revoke",
        summary: "Submit a patient-signed EIP-712 Revoke",
        tags: ["consent"],
        query: z.object({ wait: z.enum(["true", "false"]).optional() }),
      },
      async ({ body, query, reply }) => {
        const submitted = await deps.consents.submitRevoke(body);
        if (query.wait === "true") await settle(deps, submitted.outboxId);
        const row = await deps.outbox.get(submitted.outboxId);
        reply.status(row?.status === "confirmed" ? 200 : 202);
        return { ...submitted, status: row?.status === "confirmed" ? "confirmed" : submitted.status };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/consents",
        summary: "Your consents (patients)",
        tags: ["consent"],
        auth: true,
        query: z.object({ patient: address.optional() }),
      },
      async ({ request, query }) => {
        const principal = who(request);
        const patient = (query.patient ?? principal.account) as Address;
        return { grants: deps.consents.listForPatient(principal, patient).map(grantView) };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/consents/shared-with-me",
        summary: "Active grants naming you, your organization or your role",
        tags: ["consent"],
        auth: true,
      },
      async ({ request }) => ({
        grants: deps.consents.sharedWith(who(request)).map(grantView),
      }),
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
        auth: true,
      },
      async ({ request }) => {
        const principal = who(request);
        if (principal.kind !== "patient")
          throw new BaseError("forbidden", "only patients have privacy settings");
        return deps.gate.settings(principal.account);
      },
    );
    route(
      app,
      {
        method: "PUT",
        url: "/patients/me/settings",
        summary: "Change your privacy settings",
        tags: ["patient"],
        auth: true,
        body: settingsBody,
      },
      async ({ request, body }) => {
        const principal = who(request);
        if (principal.kind !== "patient")
          throw new BaseError("forbidden", "only patients have privacy settings");
        const current = deps.gate.settings(principal.account);
        const next = { breakGlassAllowed: body.breakGlassAllowed, notify: body.notify ?? current.notify };
        await deps.gate.saveSettings(principal.account, next);
        return next;
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/break-glass",
        summary:
          "Open an emergency (break-the-glass) session on a patient; purpose ETREAT, flagged to the patient",
        tags: ["consent"],
        auth: true,
        body: z.strictObject({ patient: address, reason: z.string().min(3).max(500) }),
      },
      async ({ request, body, reply }) => {
        const session = await deps.gate.openBreakGlass(who(request), body.patient as Address, body.reason);
        reply.status(201);
        return { id: session.id, expiresAt: new Date(session.expiresAt * 1000).toISOString() };
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/patients/me/notifications",
        summary: "Your notifications (break-glass flags, denials)",
        tags: ["patient"],
        auth: true,
      },
      async ({ request }) => {
        const principal = who(request);
        return { notifications: await deps.gate.notifications(principal.account) };
      },
    );
  };
}

async function settle(deps: ConsentDeps, outboxId: number): Promise<void> {
  const row = await deps.outbox.waitFor(outboxId, 15_000).catch((error: unknown) => {
    if (error instanceof BaseError && error.kind === "conflict") {
      throw new BaseError("conflict", "the ledger refused the consent", { details: error.details });
    }
    throw error;
  });
  await deps.consents.awaitApplied(row.block_number ?? 0);
}

/** `GET /fhir/Consent?patient=<account>`: the patient's grants as FHIR Consent resources. */
export function consentView(consents: ConsentService, nodeKey: Hex) {
  return async (
    request: FastifyRequest,
    query: Record<string, string | string[] | undefined>,
  ): Promise<unknown> => {
    const principal = principalOf(request, nodeKey);
    const raw = query.patient;
    const patient = ((Array.isArray(raw) ? raw[0] : raw) ?? principal.account) as Address;
    if (!/^0x[0-9a-fA-F]{40}$/.test(patient))
      throw new BaseError("invalid", "Consent search needs patient=<account address>", {
        expression: "patient",
      });
    const grants = consents.listForPatient(principal, patient);
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
