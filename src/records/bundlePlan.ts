/**
 * Plans the import of a Synthea R4 transaction or collection bundle
 * (https://hl7.org/fhir/R4/http.html#trules): gives every entry an id, rewrites references
 * between entries to `Type/id`, resolves conditional references, and orders the entries.
 *
 * Ids: a resource's own id is kept; else a `urn:uuid:` fullUrl gives its uuid; else the id of an
 * absolute fullUrl or of a `PUT Type/id` request; else a fresh random uuid. With `serverIds` (a
 * caller that may not choose ids, docs/access-rules.md "Ids"), every POST entry of a patient's
 * record gets a fresh uuid instead and the bundle's references to its old `Type/id` follow it, so
 * an import cannot tell a hidden id from a free one; PUT entries keep their id (an update).
 * Conditional references (`Organization?identifier=system|value`, as Synthea writes for the
 * Organization, Practitioner and Location entries it creates with `ifNoneExist`) resolve to the
 * entry of that type in the same bundle with that identifier. When no entry matches, the
 * reference becomes a logical one: `{ type, identifier: { system, value } }`, with `display`
 * kept; the repository may later resolve it against stored resources. A conditional reference
 * that is not by identifier cannot be resolved and is rejected.
 * Order: Patient first, then directory resources (Organization, Location, Practitioner,
 * PractitionerRole), then the rest in bundle order, so a sequential import meets few dangling
 * references. The plan is validated again after rewriting.
 */
import { randomUUID } from "node:crypto";
import { BaseError } from "../errors/BaseError.js";
import { CONDITIONAL_REFERENCE_RE } from "./fhirDatatypes.js";
import { DIRECTORY_TYPES } from "./recordWrite.js";
import type { FhirResource } from "./fhirTypes.js";
import { validateBundle, validateResource } from "./validateResource.js";

export interface PlannedEntry {
  fullUrl?: string;
  resource: FhirResource;
  /** PUT: create or update at this id; POST: create with the planned id. */
  method: "POST" | "PUT";
  /** Conditional create query from the bundle (e.g. `identifier=system|value`). */
  ifNoneExist?: string;
  /** A conditional create that matched a stored resource: nothing is written, references point to it. */
  matched?: boolean;
  /** The id is the server's, derived from the source id (`serverIdFor`): a re-import lands on it. */
  derived?: boolean;
}

/** How the repository resolved the bundle's conditional entries, by entry index. */
export interface ConditionalMatches {
  /** The stored resource an entry's `ifNoneExist` matched: the entry is not written. */
  existing: ReadonlyMap<number, string>;
  /** The stored resource a conditional PUT (`Type?query`) matched: the entry updates it. */
  updates: ReadonlyMap<number, string>;
}

export interface PlanOptions {
  /** The caller may not choose ids: POST entries of a patient's record get server ids. */
  serverIds?: boolean;
  /**
   * The server id of an entry whose source names `given` (a urn:uuid or absolute fullUrl): the
   * same source entry gets the same id again, so re-importing a bundle updates instead of
   * duplicating. A random uuid when absent.
   */
  serverIdFor?: (type: string, given: string) => string;
  conditional?: ConditionalMatches;
}
export interface BundleImportPlan {
  entries: PlannedEntry[];
}

const ORDER = ["Patient", "Organization", "Location", "Practitioner", "PractitionerRole"];
const UUID_URN_RE = /^urn:uuid:([0-9a-fA-F-]{36})$/;
const ABSOLUTE_RE = /\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function invalidEntry(i: number, message: string, path = ""): BaseError {
  const expression = `Bundle.entry[${i}]${path}`;
  return new BaseError("invalid", `${expression}: ${message}`, { expression });
}

/** Parses `identifier=system|value` (or `identifier=value`) from a conditional query. */
function identifierQuery(query: string): { system?: string; value: string } | undefined {
  const params = new URLSearchParams(query);
  const raw = params.get("identifier");
  if (raw === null || [...params.keys()].length !== 1) return undefined;
  const bar = raw.indexOf("|");
  if (bar < 0) return raw === "" ? undefined : { value: raw };
  const system = raw.slice(0, bar);
  const value = raw.slice(bar + 1);
  if (value === "") return undefined;
  return system === "" ? { value } : { system, value };
}

function identifiersOf(resource: FhirResource): { system?: unknown; value?: unknown }[] {
  return Array.isArray(resource.identifier) ? (resource.identifier as unknown[]).filter(isObject) : [];
}

/** Rewrites every `reference` under `node` in place, also in contained resources and extensions. */
function rewrite(
  node: unknown,
  resolve: (ref: string, holder: Record<string, unknown>) => void,
  depth = 0,
): void {
  if (depth > 64) return;
  if (Array.isArray(node)) for (const item of node) rewrite(item, resolve, depth + 1);
  else if (isObject(node)) {
    if (typeof node.reference === "string") resolve(node.reference, node);
    for (const [key, value] of Object.entries(node)) if (key !== "text") rewrite(value, resolve, depth + 1);
  }
}

/**
 * Plans the import of a Bundle: ids, reference rewriting, conditional references, order.
 * @param input - a transaction, batch or collection Bundle (validated here)
 * @returns entries ready for the repository, each resource valid on its own
 * @throws BaseError("invalid") for a bad bundle, a duplicate id or an unresolvable reference
 */
export function planBundleImport(input: unknown, options: PlanOptions = {}): BundleImportPlan {
  const bundle = validateBundle(input);
  const planned: (PlannedEntry & { index: number })[] = [];
  const byFullUrl = new Map<string, string>();
  const renamed = new Map<string, string>();
  const seen = new Set<string>();
  for (const [index, entry] of bundle.entry.entries()) {
    const request = entry.request;
    if (request !== undefined && request.method !== "POST" && request.method !== "PUT")
      throw invalidEntry(index, "only POST and PUT entries can be imported", ".request.method");
    if (entry.resource === undefined) throw invalidEntry(index, "is required", ".resource");
    const resource = structuredClone(entry.resource);
    const fromUrl =
      request?.method === "PUT" ? ABSOLUTE_RE.exec(`/${request.url.split("?")[0] ?? ""}`) : null;
    const fromFull = entry.fullUrl === undefined ? null : ABSOLUTE_RE.exec(entry.fullUrl);
    // a conditional PUT that matched nothing creates (FHIR conditional update)
    const method =
      request?.method === "PUT" && (!request.url.includes("?") || options.conditional?.updates.has(index))
        ? "PUT"
        : "POST";
    const given = resource.id ?? UUID_URN_RE.exec(entry.fullUrl ?? "")?.[1] ?? fromFull?.[2] ?? fromUrl?.[2];
    const fresh =
      given === undefined ||
      (options.serverIds === true && method === "POST" && !DIRECTORY_TYPES.has(resource.resourceType));
    const matched = options.conditional?.existing.get(index) ?? options.conditional?.updates.get(index);
    const conditionalPut = request?.method === "PUT" && request.url.includes("?");
    let id: string;
    let derived = false;
    if (matched !== undefined) id = matched;
    else if (conditionalPut || given === undefined) id = randomUUID();
    else if (fresh) {
      derived = options.serverIdFor !== undefined;
      id = options.serverIdFor?.(resource.resourceType, given) ?? randomUUID();
    } else id = given;
    resource.id = id;
    const local = `${resource.resourceType}/${id}`;
    if (seen.has(local))
      throw invalidEntry(index, "has the same type and id as an earlier entry", ".resource.id");
    seen.add(local);
    if (given !== undefined && given !== id) renamed.set(`${resource.resourceType}/${given}`, local);
    if (entry.fullUrl !== undefined) byFullUrl.set(entry.fullUrl, local);
    const item: PlannedEntry & { index: number } = { index, resource, method };
    if (entry.fullUrl !== undefined) item.fullUrl = entry.fullUrl;
    if (request?.ifNoneExist !== undefined) item.ifNoneExist = request.ifNoneExist;
    if (options.conditional?.existing.has(index)) item.matched = true;
    if (derived) item.derived = true;
    planned.push(item);
  }
  const findByIdentifier = (type: string, wanted: { system?: string; value: string }): string | undefined => {
    const hit = planned.find(
      (p) =>
        p.resource.resourceType === type &&
        identifiersOf(p.resource).some(
          (i) => i.value === wanted.value && (wanted.system === undefined || i.system === wanted.system),
        ),
    );
    return hit ? `${type}/${hit.resource.id ?? ""}` : undefined;
  };
  for (const p of planned) {
    rewrite(p.resource, (ref, holder) => {
      const direct = byFullUrl.get(ref) ?? renamed.get(ref);
      if (direct !== undefined) {
        holder.reference = direct;
        return;
      }
      if (ref.startsWith("urn:uuid:"))
        throw invalidEntry(p.index, "refers to a urn:uuid that is not in the bundle", ".resource");
      const conditional = CONDITIONAL_REFERENCE_RE.exec(ref);
      if (!conditional) return;
      const [, type = "", query = ""] = conditional;
      const wanted = identifierQuery(query);
      if (!wanted)
        throw invalidEntry(p.index, "has a conditional reference that is not by identifier", ".resource");
      const resolved = findByIdentifier(type, wanted);
      if (resolved !== undefined) {
        holder.reference = resolved;
        return;
      }
      delete holder.reference;
      holder.type = type;
      holder.identifier =
        wanted.system === undefined
          ? { value: wanted.value }
          : { system: wanted.system, value: wanted.value };
    });
    try {
      validateResource(p.resource);
    } catch (error) {
      const where =
        error instanceof BaseError && error.expression !== undefined ? ` (${error.expression})` : "";
      throw new BaseError(
        "invalid",
        `Bundle.entry[${p.index}].resource: is not valid after planning${where}`,
        {
          expression: `Bundle.entry[${p.index}].resource`,
          cause: error,
        },
      );
    }
  }
  const rank = (p: PlannedEntry): number => {
    const r = ORDER.indexOf(p.resource.resourceType);
    return r < 0 ? ORDER.length : r;
  };
  planned.sort((a, b) => rank(a) - rank(b) || a.index - b.index);
  return { entries: planned.map(({ index: _index, ...entry }) => entry) };
}
