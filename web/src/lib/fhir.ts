/** Reading FHIR resources for people: what it is, when, its value, and where it came from. */
import type { Api } from "../api/client";

export interface Resource {
  resourceType: string;
  id: string;
  meta?: { source?: string; lastUpdated?: string };
  [key: string]: unknown;
}

interface Bundle {
  total?: number;
  entry?: Array<{ resource: Resource }>;
  link?: Array<{ relation: string; url: string }>;
}

/** Every resource of a search or $everything, following `next` links (same origin only). */
export async function allResources(
  api: Api,
  path: string,
  options: { purpose?: string; max?: number } = {},
): Promise<Resource[]> {
  const out: Resource[] = [];
  let next: string | undefined = path;
  while (next !== undefined && out.length < (options.max ?? 5000)) {
    const page: Bundle = await api.get<Bundle>(
      next,
      options.purpose !== undefined ? { purpose: options.purpose } : {},
    );
    for (const e of page.entry ?? []) out.push(e.resource);
    const link = page.link?.find((l) => l.relation === "next")?.url;
    next =
      link === undefined
        ? undefined
        : new URL(link, window.location.origin).pathname + new URL(link, window.location.origin).search;
    if (link !== undefined && new URL(link, window.location.origin).origin !== window.location.origin)
      next = undefined;
  }
  return out;
}

type Coded = { text?: string; coding?: Array<{ display?: string; code?: string }> };

const textOf = (c: unknown): string | undefined => {
  const coded = c as Coded | undefined;
  return coded?.text ?? coded?.coding?.find((x) => x.display)?.display ?? coded?.coding?.[0]?.code;
};

/** A short name of what the resource is about. */
export function titleOf(r: Resource): string {
  const fields = ["code", "medicationCodeableConcept", "vaccineCode", "type", "category"];
  for (const f of fields) {
    const value = r[f];
    const t = textOf(Array.isArray(value) ? value[0] : value);
    if (t) return t;
  }
  if (r.resourceType === "Patient") return "Personal details";
  return r.resourceType;
}

/** When it happened (ISO), from the fields FHIR resources use for that. */
export function dateOf(r: Resource): string | undefined {
  const keys = [
    "effectiveDateTime",
    "onsetDateTime",
    "occurrenceDateTime",
    "authoredOn",
    "recordedDate",
    "performedDateTime",
    "issued",
    "date",
    "birthDate",
  ];
  for (const k of keys) if (typeof r[k] === "string") return r[k] as string;
  for (const k of ["period", "effectivePeriod", "performedPeriod"]) {
    const p = r[k] as { start?: string } | undefined;
    if (p?.start) return p.start;
  }
  return r.meta?.lastUpdated;
}

/** A result value, when the resource has one. */
export function valueOf(r: Resource): string | undefined {
  const q = r.valueQuantity as { value?: number; unit?: string } | undefined;
  if (q?.value !== undefined) return `${Number(q.value.toPrecision(4))}${q.unit ? ` ${q.unit}` : ""}`;
  if (typeof r.valueString === "string") return r.valueString;
  const c = textOf(r.valueCodeableConcept);
  return c;
}

const ORG_SOURCE = /^urn:carechain:organization:(0x[0-9a-f]{64})$/;

/** The organization that holds the resource: `meta.source` of a federated resource, else this node's. */
export function sourceOrganization(
  r: Resource,
  here: { id: string; name: string },
  names: Record<string, string> = {},
): string {
  const m = ORG_SOURCE.exec(r.meta?.source ?? "");
  const id = m?.[1];
  if (id === undefined || id === here.id.toLowerCase()) return here.name;
  return names[id] ?? `organization ${id.slice(0, 10)}…`;
}
