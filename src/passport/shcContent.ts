/**
 * The JWT payload of a SMART Health Card and the facts a verifier shows from its FHIR bundle.
 * https://spec.smarthealth.cards/#health-cards-are-encoded-as-compact-serialization-json-web-signatures-jws
 */
import { z } from "zod";
import type { HealthFact } from "./passportReport.js";

export const HEALTH_CARD_TYPE = "https://smarthealth.cards#health-card";

const resourceSchema = z.object({ resourceType: z.string().min(1) }).loose();

export const shcPayloadSchema = z.object({
  iss: z.string().min(1),
  nbf: z.number(),
  exp: z.number().optional(),
  vc: z.object({
    type: z.array(z.string()),
    rid: z.string().optional(),
    credentialSubject: z.object({
      fhirVersion: z.string(),
      fhirBundle: z
        .object({
          resourceType: z.literal("Bundle"),
          type: z.literal("collection"),
          entry: z.array(z.object({ fullUrl: z.string(), resource: resourceSchema })).min(1),
        })
        .loose(),
    }),
  }),
});
export type ShcPayload = z.infer<typeof shcPayloadSchema>;
type Resource = z.infer<typeof resourceSchema>;

/**
 * Checks the bundle rules a card must keep: the health-card type, `resource:N` full URLs in order,
 * no resource ids, and `meta` holding security labels only.
 * @returns the first broken rule, or null
 */
export function contentProblem(payload: ShcPayload): string | null {
  if (!payload.vc.type.includes(HEALTH_CARD_TYPE)) return `vc.type lacks ${HEALTH_CARD_TYPE}`;
  const entries = payload.vc.credentialSubject.fhirBundle.entry;
  for (const [index, entry] of entries.entries()) {
    if (entry.fullUrl !== `resource:${index}`) return "Bundle.entry.fullUrl must be resource:N in order";
    if ("id" in entry.resource) return "Bundle.entry.resource must not carry an id";
    const meta = entry.resource["meta"];
    if (meta !== undefined) {
      if (typeof meta !== "object" || meta === null || Object.keys(meta).some((key) => key !== "security")) {
        return "Bundle.entry.resource.meta may hold security labels only";
      }
    }
  }
  return null;
}

// Built once: a zod schema compiles on first use, which costs more than the parse itself.
const humanNamesSchema = z.array(
  z.object({
    family: z.string().optional(),
    given: z.array(z.string()).optional(),
    text: z.string().optional(),
  }),
);
const quantitySchema = z.object({ value: z.number(), unit: z.string().optional() });

/** The patient a card names (first Patient entry), or null when the bundle has none. */
export function cardPatient(payload: ShcPayload): { name: string; birthDate: string | null } | null {
  const patient = payload.vc.credentialSubject.fhirBundle.entry.find(
    (entry) => entry.resource.resourceType === "Patient",
  )?.resource;
  if (patient === undefined) return null;
  const names = humanNamesSchema.safeParse(patient["name"]);
  const first = names.success ? names.data[0] : undefined;
  const name =
    first === undefined
      ? ""
      : (first.text ??
        [...(first.given ?? []), ...(first.family === undefined ? [] : [first.family])].join(" "));
  const birthDate = typeof patient["birthDate"] === "string" ? patient["birthDate"] : null;
  return { name, birthDate };
}

const codingSchema = z.object({
  system: z.string().optional(),
  code: z.string().optional(),
  display: z.string().optional(),
});
const conceptSchema = z.object({ coding: z.array(codingSchema).optional(), text: z.string().optional() });

function firstCoding(value: unknown): z.infer<typeof codingSchema> & { text?: string } {
  const concept = conceptSchema.safeParse(value);
  if (!concept.success) return {};
  const coding = concept.data.coding?.[0] ?? {};
  return concept.data.text === undefined ? coding : { ...coding, text: concept.data.text };
}

function defined<T extends object>(fact: T): T {
  return Object.fromEntries(Object.entries(fact).filter(([, value]) => value !== undefined)) as T;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function observationResult(resource: Resource): string | undefined {
  const concept = firstCoding(resource["valueCodeableConcept"]);
  if (concept.code !== undefined || concept.display !== undefined) {
    return (
      concept.display ??
      (concept.system === undefined ? concept.code : `${concept.system}|${concept.code ?? ""}`)
    );
  }
  const quantity = quantitySchema.safeParse(resource["valueQuantity"]);
  if (quantity.success)
    return `${quantity.data.value}${quantity.data.unit === undefined ? "" : ` ${quantity.data.unit}`}`;
  return str(resource["valueString"]);
}

/** The immunizations and test results a card states, in bundle order. */
export function cardFacts(payload: ShcPayload): HealthFact[] {
  const facts: HealthFact[] = [];
  for (const { resource } of payload.vc.credentialSubject.fhirBundle.entry) {
    if (resource.resourceType === "Immunization") {
      const coding = firstCoding(resource["vaccineCode"]);
      facts.push(
        defined({
          kind: "immunization" as const,
          source: "Immunization",
          system: coding.system,
          code: coding.code,
          display: coding.display ?? coding.text,
          date: str(resource["occurrenceDateTime"]) ?? str(resource["occurrenceString"]),
          lotNumber: str(resource["lotNumber"]),
          status: str(resource["status"]),
        }),
      );
    } else if (resource.resourceType === "Observation") {
      const coding = firstCoding(resource["code"]);
      facts.push(
        defined({
          kind: "test" as const,
          source: "Observation",
          system: coding.system,
          code: coding.code,
          display: coding.display ?? coding.text,
          date: str(resource["effectiveDateTime"]),
          status: str(resource["status"]),
          result: observationResult(resource),
        }),
      );
    }
  }
  return facts;
}
