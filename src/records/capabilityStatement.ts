/**
 * The FHIR R4 CapabilityStatement (https://hl7.org/fhir/R4/capabilitystatement.html) generated
 * from what the server really does: the interactions and operations from the declared route
 * table (src/api/routeDef.ts `routeTable`), the resource types from SUPPORTED_TYPES, the search
 * parameters, `_include`, `_revinclude` and sort keys from the search catalog that parseSearch
 * validates against (src/records/searchCatalog.ts). Nothing is listed by hand, so it cannot drift.
 */
import { SUPPORTED_TYPES } from "./fhirTypes.js";
import { includeName, includesOf, revincludesOf, searchParamsOf } from "./searchCatalog.js";

/** One declared route, as the route table has it. */
export interface DeclaredFhirRoute {
  method: string;
  url: string;
}

export interface CapabilityOptions {
  /** Every declared route of the server; the `/fhir` ones say what is served. */
  routes: readonly DeclaredFhirRoute[];
  /** Types whose search another room serves with its own parameters (Consent, AuditEvent). */
  views?: readonly string[];
  /**
   * The `rest.security` section. The hook for whoever adds an authorization scheme (SMART on
   * FHIR: the `oauth-uris` extension and the `SMART-on-FHIR` service); SIWE sessions otherwise.
   */
  security?: () => object;
  /** The statement's date (defaults to the build's). */
  date?: string;
}

/** How a declared route reads as a FHIR interaction. */
const TYPE_INTERACTIONS: Array<{ method: string; url: string; code: string }> = [
  { method: "GET", url: "/fhir/:type/:id", code: "read" },
  { method: "GET", url: "/fhir/:type/:id/_history/:vid", code: "vread" },
  { method: "PUT", url: "/fhir/:type/:id", code: "update" },
  { method: "PATCH", url: "/fhir/:type/:id", code: "patch" },
  { method: "DELETE", url: "/fhir/:type/:id", code: "delete" },
  { method: "GET", url: "/fhir/:type/:id/_history", code: "history-instance" },
  { method: "GET", url: "/fhir/:type/_history", code: "history-type" },
  { method: "POST", url: "/fhir/:type", code: "create" },
  { method: "GET", url: "/fhir/:type", code: "search-type" },
];

/** The default security section: SIWE sign-in for a bearer session token. */
const SIWE_SECURITY = {
  cors: false,
  description:
    "SIWE (EIP-4361) sign-in for a bearer session token; patient consent enforced on every interaction",
};

/**
 * The CapabilityStatement of this node.
 * @param options - the route table, the view types, the security hook
 */
export function capabilityStatement(options: CapabilityOptions): object {
  const served = new Set(options.routes.map((r) => `${r.method} ${r.url}`));
  const interactions = TYPE_INTERACTIONS.filter((i) => served.has(`${i.method} ${i.url}`)).map((i) => i.code);
  const views = new Set(options.views ?? []);
  const operations = options.routes.flatMap((r) => {
    const m = /^\/fhir\/([A-Z][A-Za-z]+)\/:id\/\$([a-z-]+)$/.exec(r.url);
    return m ? [{ type: m[1] ?? "", name: m[2] ?? "", method: r.method }] : [];
  });
  const resource = SUPPORTED_TYPES.map((type) => {
    const own = operations.filter((o) => o.type === type);
    const searchable = interactions.includes("search-type");
    return {
      type,
      interaction: interactions.map((code) => ({ code })),
      ...(interactions.includes("update") ? { updateCreate: true } : {}),
      ...(searchable && !views.has(type)
        ? {
            searchInclude: includesOf(type).map(includeName),
            searchRevInclude: revincludesOf(type).map(includeName),
            searchParam: searchParamsOf(type).map((p) => ({
              name: p.name,
              type: p.type,
              documentation: p.documentation,
            })),
          }
        : {}),
      ...(own.length
        ? {
            operation: [...new Set(own.map((o) => o.name))].map((name) => ({
              name,
              definition: `urn:carechain:operation:${type}-${name}`,
            })),
          }
        : {}),
    };
  });
  const system = [
    ...(served.has("POST /fhir") ? [{ code: "transaction" }, { code: "batch" }] : []),
    ...(served.has("GET /fhir/_history") ? [{ code: "history-system" }] : []),
  ];
  return {
    resourceType: "CapabilityStatement",
    status: "active",
    kind: "instance",
    fhirVersion: "4.0.1",
    format: ["application/fhir+json", "json"],
    date: options.date ?? "2026-12-07",
    software: { name: "carechain" },
    implementation: { description: "carechain node: patient-controlled records" },
    rest: [
      {
        mode: "server",
        security: options.security ? options.security() : SIWE_SECURITY,
        resource,
        interaction: system,
        searchParam: [
          { name: "_count", type: "number", documentation: "page size, 0-1000 (0: total only)" },
          {
            name: "_sort",
            type: "string",
            documentation: "_lastUpdated, _id, date; Patient: birthdate, family, given, name",
          },
          { name: "_summary", type: "token", documentation: "true, data, count, false (text is refused)" },
          { name: "_elements", type: "string", documentation: "top-level elements to return" },
          { name: "_total", type: "token", documentation: "the permitted total is always given" },
        ],
      },
    ],
  };
}
