/**
 * Which SMART interaction an HTTP request to the FHIR API is, so a scope can be checked by type
 * before anything is read. Routes not listed here refuse SMART tokens (fail closed): a new FHIR
 * route opens to apps only once it is mapped.
 */
import type { ScopeInteraction } from "../model/principal.js";

/** The scope check of one request: an interaction on a type, or `entries` (checked per entry). */
export type FhirInteraction = { type: string; interaction: ScopeInteraction } | "entries";

/**
 * @param method - The HTTP method.
 * @param routeUrl - The matched route pattern, e.g. `/fhir/:type/:id`.
 * @param params - The path parameters.
 * @returns undefined when apps may not call the route at all
 */
export function fhirInteraction(
  method: string,
  routeUrl: string | undefined,
  params: Record<string, string | undefined>,
): FhirInteraction | undefined {
  const type = params.type;
  switch (`${method} ${routeUrl ?? ""}`) {
    case "POST /fhir":
      // a transaction's entries are writes, each checked by the write authorizer
      return "entries";
    case "GET /fhir/Patient/:id/$everything":
    case "GET /fhir/Patient/:id/$summary":
      // what the patient's record holds is screened by type as it is read (src/records/recordGate.ts)
      return { type: "Patient", interaction: "r" };
    case "GET /fhir/:type":
    case "POST /fhir/:type/_search":
      return type === undefined ? undefined : { type, interaction: "s" };
    case "GET /fhir/:type/:id":
    case "GET /fhir/:type/:id/_history":
    case "GET /fhir/:type/:id/_history/:vid":
      return type === undefined ? undefined : { type, interaction: "r" };
    case "POST /fhir/:type":
      return type === undefined ? undefined : { type, interaction: "c" };
    // a conditional update (`PUT /fhir/:type?query`) too: the write authorizer checks `c` or `u`
    // on what it creates or updates
    case "PUT /fhir/:type":
    case "PUT /fhir/:type/:id":
    case "PATCH /fhir/:type/:id":
      return type === undefined ? undefined : { type, interaction: "u" };
    case "DELETE /fhir/:type/:id":
      return type === undefined ? undefined : { type, interaction: "d" };
    default:
      return undefined;
  }
}
