/**
 * The pieces of FHIR's conditional and versioned writes (https://hl7.org/fhir/R4/http.html#cond-update)
 * that decide nothing themselves: the `If-Match` check, a condition's query as search parameters,
 * the one-match rule, a bundle's conditional entries, and the server ids derived from source ids.
 * The repository matches (among what the caller may see) and authorizes.
 */
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { BlindIndex } from "./blindIndex.js";
import type { ConditionalMatches } from "./bundlePlan.js";
import { isSupportedType } from "./fhirTypes.js";

/** Conditions of a conditional write. */
export interface WriteConditions {
  /** `If-Match`: the version the write expects to replace (412 when it is not the current one). */
  ifMatch?: number | undefined;
}

/** Refuses a write whose `If-Match` does not name the version it would replace (0: none). */
export function checkVersion(expected: number | undefined, current: number): void {
  if (expected !== undefined && expected !== current)
    throw new BaseError("precondition", "If-Match does not name the current version", {
      expression: "If-Match",
    });
}

/**
 * A condition's query (`a=b&c=d`) as search parameters.
 * @throws BaseError("invalid") for result parameters (`_count`...) or an empty query, naming `where`
 */
export function conditionParams(query: string, where: string): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(query)) {
    if (name.startsWith("_") && name !== "_id")
      throw new BaseError("invalid", `a conditional ${where} takes search parameters only`, {
        expression: where,
      });
    const had = params[name];
    params[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  if (Object.keys(params).length === 0)
    throw new BaseError("invalid", `a conditional ${where} needs at least one search parameter`, {
      expression: where,
    });
  return params;
}

/**
 * The one match of a condition, or undefined for none.
 * @throws BaseError("precondition") for several (412)
 */
export function oneMatch(ids: readonly string[], where: string): string | undefined {
  if (ids.length > 1)
    throw new BaseError("precondition", `${where} matches more than one resource`, { expression: where });
  return ids[0];
}

/**
 * A bundle's conditional entries, matched by `match`: a POST's `ifNoneExist` and a PUT to
 * `Type?query` (https://hl7.org/fhir/R4/http.html#trules).
 */
export async function conditionalEntries(
  input: unknown,
  match: (type: string, query: string, where: string) => Promise<string | undefined>,
): Promise<ConditionalMatches> {
  const existing = new Map<number, string>();
  const updates = new Map<number, string>();
  const entries = (input as { entry?: unknown } | null)?.entry;
  if (!Array.isArray(entries)) return { existing, updates };
  for (const [index, entry] of entries.entries()) {
    const e = entry as { resource?: { resourceType?: unknown }; request?: Record<string, unknown> } | null;
    const type = e?.resource?.resourceType;
    const request = e?.request;
    if (typeof type !== "string" || !isSupportedType(type) || request === undefined) continue;
    const where = `Bundle.entry[${index}].request`;
    if (request.method === "POST" && typeof request.ifNoneExist === "string") {
      const id = await match(type, request.ifNoneExist, `${where}.ifNoneExist`);
      if (id !== undefined) existing.set(index, id);
    } else if (request.method === "PUT" && typeof request.url === "string" && request.url.includes("?")) {
      const [path = "", query = ""] = request.url.split("?", 2);
      if (path !== type)
        throw new BaseError("invalid", `${where}.url must name the entry's resource type`, {
          expression: `${where}.url`,
        });
      const id = await match(type, query, `${where}.url`);
      if (id !== undefined) updates.set(index, id);
    }
  }
  return { existing, updates };
}

/**
 * The ids of a caller that may not choose them, for bundle entries whose source names an id
 * (src/records/bundlePlan.ts `serverIdFor`): a keyed hash of the caller's organization (or
 * account), the type and the source id, shaped as a UUID. The same source entry imported again
 * by the same organization lands on the same id (an update); nobody can aim an id at a resource
 * they did not import, since the key is the node's (docs/access-rules.md, "Ids").
 */
export function serverIdFor(
  blind: BlindIndex,
  principal: Principal,
): (type: string, given: string) => string {
  const scope = (principal.organization ?? principal.account).toLowerCase();
  return (type, given) => {
    const hex = Buffer.from(blind.token(`carechain/import-id/v1|${scope}|${type}|${given}`), "base64url")
      .toString("hex")
      .slice(0, 32);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
}
