/**
 * Splits one patient's FHIR transaction Bundle (e.g. from Synthea) into one Bundle per holding
 * organization, the way a patient's record is really spread across a consortium: labs at the lab,
 * medications at the pharmacy, the rest at the hospital and the GP. `urn:uuid:` references are
 * rewritten to `Type/id` first, so each part imports on its own; the Patient goes into every part.
 */
import type { FhirResource } from "../records/fhirTypes.js";

/** Where a resource is held: a key of the caller's choosing (e.g. "lab", "pharmacy"). */
export type HolderOf = (resource: FhirResource) => string;

interface Entry {
  fullUrl?: string;
  resource: FhirResource;
  request?: unknown;
}

/**
 * Splits `bundle` by `holderOf`; returns a transaction Bundle per holder.
 * @param bundle - A transaction or collection Bundle of one patient.
 * @param holderOf - Which holder keeps a resource (the Patient is copied to every holder).
 * @returns Bundles by holder key, each with the Patient first.
 */
export function splitBundle(bundle: FhirResource, holderOf: HolderOf): Map<string, FhirResource> {
  const entries = (Array.isArray(bundle.entry) ? bundle.entry : []) as Entry[];
  const byUrn = new Map<string, string>();
  for (const e of entries) {
    if (e.fullUrl?.startsWith("urn:uuid:") && e.resource.id) {
      byUrn.set(e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`);
    }
  }
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === "reference" && typeof v === "string" && byUrn.has(v) ? byUrn.get(v) : rewrite(v);
    }
    return out;
  };
  const patient = entries.find((e) => e.resource.resourceType === "Patient");
  const parts = new Map<string, Entry[]>();
  for (const e of entries) {
    if (e === patient) continue;
    const resource = rewrite(e.resource) as FhirResource;
    const holder = holderOf(resource);
    const list = parts.get(holder) ?? [];
    list.push({
      fullUrl: e.fullUrl ?? `${resource.resourceType}/${resource.id}`,
      resource,
      request: e.request,
    });
    parts.set(holder, list);
  }
  const out = new Map<string, FhirResource>();
  for (const [holder, list] of parts) {
    out.set(holder, {
      resourceType: "Bundle",
      type: "transaction",
      entry: patient ? [{ ...patient, resource: rewrite(patient.resource) as FhirResource }, ...list] : list,
    });
  }
  return out;
}

/** Whether an Observation is a laboratory result (category `laboratory`). */
export function isLab(resource: FhirResource): boolean {
  if (resource.resourceType === "DiagnosticReport") return true;
  if (resource.resourceType !== "Observation") return false;
  const categories = (resource.category ?? []) as Array<{ coding?: Array<{ code?: string }> }>;
  return categories.some((c) => c.coding?.some((x) => x.code === "laboratory"));
}

/** The demo's split: labs to "lab", medications to "pharmacy", encounters/claims/procedures to "hospital", the rest to "gp". */
export function consortiumHolder(resource: FhirResource): string {
  if (isLab(resource)) return "lab";
  if (resource.resourceType === "MedicationRequest") return "pharmacy";
  if (
    ["Encounter", "Procedure", "Claim", "ExplanationOfBenefit", "CarePlan", "Goal"].includes(
      resource.resourceType,
    )
  ) {
    return "hospital";
  }
  return "gp";
}
