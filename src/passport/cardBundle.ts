/**
 * The minimal FHIR bundle of a SMART Health Card, made from the patient's own records: the
 * Patient's name and birth date, then each Immunization or laboratory Observation with only the
 * elements a verifier needs. `resource:N` full URLs and references, no ids, no meta (security
 * labels excepted), no narrative. https://spec.smarthealth.cards/#health-cards-are-small
 */
type Json = Record<string, unknown>;

export type CardType = "immunization" | "laboratory";

/** The `vc.type` entries of a card of this type. */
export function cardTypes(type: CardType): string[] {
  return ["https://smarthealth.cards#health-card", `https://smarthealth.cards#${type}`];
}

function pick(resource: Json, keys: readonly string[]): Json {
  const out: Json = {};
  for (const key of keys) if (resource[key] !== undefined) out[key] = minimalValue(resource[key]);
  return out;
}

/** Drops narrative-only parts of a datatype: Coding.display, CodeableConcept.text, Reference ids. */
function minimalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(minimalValue);
  if (value === null || typeof value !== "object") return value;
  const out: Json = {};
  for (const [key, inner] of Object.entries(value as Json)) {
    if (key === "id" || key === "extension" || key === "display" || key === "text") continue;
    out[key] = minimalValue(inner);
  }
  return out;
}

function securityMeta(resource: Json): Json {
  const meta = resource["meta"] as { security?: unknown } | undefined;
  return meta?.security === undefined ? {} : { meta: { security: meta.security } };
}

function minimalPatient(patient: Json): Json {
  const names = Array.isArray(patient["name"]) ? (patient["name"] as Json[]) : [];
  const official = names.find((name) => name["use"] === "official") ?? names[0];
  const name = official === undefined ? undefined : pick(official, ["family", "given"]);
  return {
    resourceType: "Patient",
    ...securityMeta(patient),
    ...(name === undefined ? {} : { name: [name] }),
    ...(typeof patient["birthDate"] === "string" ? { birthDate: patient["birthDate"] } : {}),
  };
}

function performerDisplay(resource: Json): Json {
  const performers = Array.isArray(resource["performer"]) ? (resource["performer"] as Json[]) : [];
  const display = performers
    .map((performer) => (performer["actor"] as Json | undefined)?.["display"] ?? performer["display"])
    .find((value) => typeof value === "string");
  return display === undefined ? {} : { performer: [{ actor: { display } }] };
}

function minimalImmunization(resource: Json): Json {
  return {
    resourceType: "Immunization",
    ...securityMeta(resource),
    ...pick(resource, ["status", "vaccineCode"]),
    patient: { reference: "resource:0" },
    ...pick(resource, ["occurrenceDateTime", "occurrenceString"]),
    ...performerDisplay(resource),
    ...pick(resource, ["lotNumber"]),
  };
}

const OBSERVATION_VALUES = [
  "valueCodeableConcept",
  "valueQuantity",
  "valueString",
  "valueBoolean",
  "valueInteger",
  "valueRange",
  "valueRatio",
] as const;

function minimalObservation(resource: Json): Json {
  return {
    resourceType: "Observation",
    ...securityMeta(resource),
    ...pick(resource, ["status", "code"]),
    subject: { reference: "resource:0" },
    ...pick(resource, ["effectiveDateTime", "effectivePeriod"]),
    ...performerDisplay(resource),
    ...pick(resource, [...OBSERVATION_VALUES, "referenceRange"]),
  };
}

/**
 * Builds the card's bundle.
 * @param patient - the patient's FHIR Patient resource
 * @param resources - the Immunizations or Observations to state, in the order to show them
 */
export function cardBundle(patient: Json, resources: readonly Json[]): Json {
  const entries = [
    minimalPatient(patient),
    ...resources.map((resource) =>
      resource["resourceType"] === "Immunization"
        ? minimalImmunization(resource)
        : minimalObservation(resource),
    ),
  ];
  return {
    resourceType: "Bundle",
    type: "collection",
    entry: entries.map((resource, index) => ({ fullUrl: `resource:${index}`, resource })),
  };
}
