/**
 * The CDS Hooks 2.0 service (https://cds-hooks.hl7.org/2.0/): discovery, the `patient-view`,
 * `order-select` and `order-sign` hooks, and feedback. The data a hook reasons over comes from one
 * of two places, never both:
 * - with `fhirAuthorization` (a carechain session or SMART access token of the clinician the EHR
 *   calls for), from this node's records, read as that clinician (consent decided, every read
 *   audited in the patient's log) — what the clinician may not read never reaches a rule;
 * - without it, from the `prefetch` the EHR sent: data the EHR already holds, so nothing of this
 *   node is read.
 * With neither, the service answers 412 as the spec says. `context.userId` is not trusted for
 * identity: the token is.
 */
import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import type { FhirResource } from "../records/fhirTypes.js";
import type { Schema } from "../store/schema.js";
import { bundleResources, clinicalFacts, codeOf, RXNORM } from "./clinicalFacts.js";
import type { CdsCaller } from "./cdsClients.js";
import type { Guidance } from "./guidanceCard.js";
import { orderGuidance, patientGuidance } from "./guidance.js";
import type { MedicationItem } from "./rules/drugInteractions.js";

export const CDS_SERVICES = [
  {
    hook: "patient-view",
    id: "carechain-patient-view",
    title: "carechain care guidance",
    description:
      "Preventive-care gaps, immunizations due, abnormal or worsening labs, drug interactions and allergy conflicts, and the latest early-warning score, from the records the user may see.",
    prefetch: {
      patient: "Patient/{{context.patientId}}",
      conditions: "Condition?patient={{context.patientId}}",
      medications: "MedicationRequest?patient={{context.patientId}}",
      allergies: "AllergyIntolerance?patient={{context.patientId}}",
      immunizations: "Immunization?patient={{context.patientId}}",
      observations: "Observation?patient={{context.patientId}}&_sort=-date&_count=500",
      procedures: "Procedure?patient={{context.patientId}}",
    },
  },
  {
    hook: "order-select",
    id: "carechain-order-select",
    title: "carechain medication safety (order select)",
    description:
      "Drug-drug interactions (ONC high-priority list) and drug-allergy conflicts of the selected draft medication orders.",
    prefetch: {
      patient: "Patient/{{context.patientId}}",
      medications: "MedicationRequest?patient={{context.patientId}}",
      allergies: "AllergyIntolerance?patient={{context.patientId}}",
    },
  },
  {
    hook: "order-sign",
    id: "carechain-order-sign",
    title: "carechain medication safety (order sign)",
    description:
      "Drug-drug interactions and drug-allergy conflicts of the draft medication orders about to be signed.",
    prefetch: {
      patient: "Patient/{{context.patientId}}",
      medications: "MedicationRequest?patient={{context.patientId}}",
      allergies: "AllergyIntolerance?patient={{context.patientId}}",
    },
  },
] as const;

export type CdsServiceId = (typeof CDS_SERVICES)[number]["id"];

/** The discovery document (`GET /cds-services`). */
export function cdsDiscovery(): { services: typeof CDS_SERVICES } {
  return { services: CDS_SERVICES };
}

/** The service of `id`, or a 404 naming the parameter. */
export function cdsService(id: string): (typeof CDS_SERVICES)[number] {
  const service = CDS_SERVICES.find((s) => s.id === id);
  if (service === undefined)
    throw new BaseError("not-found", "no CDS service with this id", { expression: "id" });
  return service;
}

const fhirResource = z.object({ resourceType: z.string().min(1) }).passthrough();

export const cdsRequestSchema = z.object({
  hook: z.string().min(1).max(100),
  hookInstance: z.string().min(1).max(100),
  fhirServer: z.string().url().max(2048).optional(),
  fhirAuthorization: z
    .object({
      access_token: z.string().min(1).max(8192),
      token_type: z.literal("Bearer"),
      expires_in: z.number().int().nonnegative(),
      scope: z.string().max(4096),
      subject: z.string().max(512),
      patient: z.string().max(64).optional(),
    })
    .optional(),
  context: z
    .object({
      userId: z.string().max(512).optional(),
      patientId: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
      encounterId: z.string().max(64).optional(),
      selections: z.array(z.string().max(200)).max(100).optional(),
      draftOrders: fhirResource.optional(),
    })
    .passthrough(),
  prefetch: z.record(z.string(), z.union([fhirResource, z.null()])).optional(),
});
export type CdsRequest = z.infer<typeof cdsRequestSchema>;

export const cdsFeedbackSchema = z.object({
  feedback: z
    .array(
      z.object({
        card: z.string().min(1).max(100),
        outcome: z.enum(["accepted", "overridden"]),
        acceptedSuggestions: z
          .array(z.object({ id: z.string().min(1).max(100) }))
          .max(20)
          .optional(),
        overrideReason: z
          .object({
            reason: z
              .object({
                code: z.string().max(200),
                system: z.string().max(512).optional(),
                display: z.string().max(512).optional(),
              })
              .optional(),
            userComment: z.string().max(2000).optional(),
          })
          .optional(),
        outcomeTimestamp: z.string().max(40),
      }),
    )
    .min(1)
    .max(100),
});
export type CdsFeedback = z.infer<typeof cdsFeedbackSchema>;

export interface CdsCard {
  uuid: string;
  summary: string;
  detail: string;
  indicator: Guidance["indicator"];
  source: { label: string; url?: string; topic: { system: string; code: string; display: string } };
  selectionBehavior?: "at-most-one";
  suggestions?: {
    label: string;
    uuid: string;
    isRecommended: boolean;
    actions: { type: "delete"; description: string; resourceId: string }[];
  }[];
  overrideReasons?: { system: string; code: string; display: string }[];
}

/** A UUID-shaped id fixed by the inputs (so feedback can name a card, and the same call gives the same ids). */
function stableUuid(...parts: string[]): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const TOPIC_SYSTEM = "urn:carechain:cds-topic";
const OVERRIDE_SYSTEM = "urn:carechain:cds-override-reason";
const OVERRIDE_REASONS = [
  { system: OVERRIDE_SYSTEM, code: "benefit-outweighs-risk", display: "Benefit outweighs risk" },
  { system: OVERRIDE_SYSTEM, code: "already-addressed", display: "Already addressed" },
  { system: OVERRIDE_SYSTEM, code: "patient-declined", display: "Patient declined" },
];

/**
 * A guidance item as a CDS Hooks card.
 * @param g - The guidance.
 * @param hookInstance - The call's hookInstance (card ids are unique per call).
 */
export function toCard(g: Guidance, hookInstance: string): CdsCard {
  const uuid = stableUuid(hookInstance, g.id);
  return {
    uuid,
    summary: g.summary.length < 140 ? g.summary : `${g.summary.slice(0, 138)}…`,
    detail: g.detail,
    indicator: g.indicator,
    source: {
      label: `${g.source.publisher}: ${g.source.title}`.slice(0, 200),
      ...(g.source.url ? { url: g.source.url } : {}),
      topic: { system: TOPIC_SYSTEM, code: g.rule, display: g.rule },
    },
    ...(g.suggestion
      ? {
          selectionBehavior: "at-most-one" as const,
          suggestions: [
            {
              label: g.suggestion.label,
              uuid: stableUuid(uuid, "suggestion"),
              isRecommended: true,
              actions: g.suggestion.removeOrders.map((resourceId) => ({
                type: "delete" as const,
                description: `Remove ${resourceId}`,
                resourceId,
              })),
            },
          ],
        }
      : {}),
    ...(g.indicator !== "info" ? { overrideReasons: OVERRIDE_REASONS } : {}),
  };
}

/** The draft medication orders of an order hook (all of them, or the selected ones). */
function draftItems(request: CdsRequest, selectedOnly: boolean): MedicationItem[] {
  const drafts = request.context.draftOrders;
  if (drafts === undefined)
    throw new BaseError("invalid", "order hooks need context.draftOrders", {
      expression: "context.draftOrders",
    });
  const selections = new Set(request.context.selections ?? []);
  return bundleResources(drafts as FhirResource)
    .filter((r) => r.resourceType === "MedicationRequest" && typeof r.id === "string")
    .map((r) => ({ resource: r, reference: `MedicationRequest/${r.id as string}` }))
    .filter((d) => !selectedOnly || selections.has(d.reference))
    .map(({ resource, reference }) => ({
      name: codeOf(resource.medicationCodeableConcept as never, RXNORM)?.display ?? "unnamed medication",
      reference,
      draft: true,
    }));
}

/** Resources from the prefetch values (resources or Bundles), or undefined when no key was satisfied. */
function prefetched(prefetch: CdsRequest["prefetch"]): FhirResource[] | undefined {
  if (prefetch === undefined) return undefined;
  const values = Object.values(prefetch);
  if (values.length === 0) return undefined;
  return values.flatMap((v) =>
    v === null ? [] : v.resourceType === "Bundle" ? bundleResources(v as FhirResource) : [v as FhirResource],
  );
}

export interface CdsHooksDeps {
  db: Kysely<Schema>;
  /** The patient's record as the clinician may see it (decided and audited), e.g. `records.everything`. */
  everything: (principal: Principal, patientId: string) => Promise<FhirResource>;
  /** The clinician a `fhirAuthorization.access_token` speaks for (session or SMART token). */
  principalOfToken: (token: string, requestId: string) => Promise<Principal>;
  now?: () => Date;
}

export class CdsHooksService {
  readonly #d: CdsHooksDeps;

  constructor(deps: CdsHooksDeps) {
    this.#d = deps;
  }

  /**
   * Answers a hook call.
   * @param serviceId - The service called.
   * @param request - The validated request body.
   * @param requestId - Correlation id.
   */
  async call(serviceId: string, request: CdsRequest, requestId: string): Promise<{ cards: CdsCard[] }> {
    const service = cdsService(serviceId);
    if (request.hook !== service.hook)
      throw new BaseError("invalid", `this service answers the ${service.hook} hook`, { expression: "hook" });
    const resources = await this.#resources(request, requestId);
    const facts = clinicalFacts(resources);
    const now = (this.#d.now ?? (() => new Date()))();
    const guidance =
      service.hook === "patient-view"
        ? patientGuidance(facts, now)
        : orderGuidance(facts, draftItems(request, service.hook === "order-select"));
    return { cards: guidance.map((g) => toCard(g, request.hookInstance)) };
  }

  async #resources(request: CdsRequest, requestId: string): Promise<FhirResource[]> {
    const auth = request.fhirAuthorization;
    if (auth !== undefined) {
      const principal = await this.#d.principalOfToken(auth.access_token, requestId);
      return bundleResources(await this.#d.everything(principal, request.context.patientId));
    }
    const data = prefetched(request.prefetch);
    if (data === undefined)
      throw new BaseError(
        "precondition",
        "send the prefetch data or fhirAuthorization (a token for the user)",
        {
          expression: "prefetch",
        },
      );
    return data;
  }

  /**
   * Records a client's feedback on cards.
   * @param serviceId - The service the cards came from.
   * @param caller - The client that sent it.
   * @param feedback - The validated body.
   */
  async feedback(serviceId: string, caller: CdsCaller, feedback: CdsFeedback): Promise<void> {
    cdsService(serviceId);
    const receivedAt = Date.now();
    await this.#d.db
      .insertInto("cds_feedback")
      .values(
        feedback.feedback.map((f) => ({
          service: serviceId,
          iss: caller.iss,
          card: f.card,
          outcome: f.outcome,
          suggestions: JSON.stringify((f.acceptedSuggestions ?? []).map((s) => s.id)),
          // the reason's coding only: a user comment is free text and may name the patient
          override_reason:
            f.overrideReason?.reason === undefined ? null : JSON.stringify(f.overrideReason.reason),
          outcome_at: f.outcomeTimestamp,
          received_at: receivedAt,
        })),
      )
      .execute();
  }
}
