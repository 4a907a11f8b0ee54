/**
 * How apps discover the SMART authorization server: `[FHIR base]/.well-known/smart-configuration`
 * (SMART App Launch 2.x, "Conformance") and the `rest.security` part of the CapabilityStatement.
 * https://hl7.org/fhir/smart-app-launch/conformance.html
 */
import { CONTEXT_SCOPES } from "./scopes.js";

/** Paths of the SMART endpoints, under the node's public URL. */
export const SMART_PATHS = {
  authorize: "/smart/authorize",
  decision: "/smart/authorize/decision",
  token: "/smart/token",
  revoke: "/smart/revoke",
  introspect: "/smart/introspect",
  clients: "/smart/clients",
} as const;

/** What this server supports, as SMART names it. */
const CAPABILITIES = [
  "launch-standalone",
  "client-public",
  "client-confidential-symmetric",
  "context-standalone-patient",
  "permission-v2",
  "permission-v1",
  "permission-patient",
  "permission-user",
  "permission-offline",
  "permission-online",
];

/**
 * The SMART configuration document.
 * @param publicUrl - The node's public URL (no trailing slash), e.g. `https://clinic.example`.
 */
export function smartConfiguration(publicUrl: string): Record<string, unknown> {
  const base = publicUrl.replace(/\/+$/, "");
  return {
    authorization_endpoint: `${base}${SMART_PATHS.authorize}`,
    token_endpoint: `${base}${SMART_PATHS.token}`,
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    revocation_endpoint: `${base}${SMART_PATHS.revoke}`,
    introspection_endpoint: `${base}${SMART_PATHS.introspect}`,
    grant_types_supported: ["authorization_code", "refresh_token"],
    response_types_supported: ["code"],
    code_challenge_methods_supported: ["S256"],
    scopes_supported: [
      ...CONTEXT_SCOPES,
      "patient/*.cruds",
      "patient/*.rs",
      "user/*.cruds",
      "user/*.rs",
      "patient/*.read",
      "user/*.read",
    ],
    capabilities: CAPABILITIES,
  };
}

/**
 * The `rest.security` of the CapabilityStatement: the SMART-on-FHIR service coding and the
 * oauth-uris extension, for whoever builds the CapabilityStatement (src/api/routes/fhir.ts).
 * @param publicUrl - The node's public URL (no trailing slash).
 */
export function smartSecurity(publicUrl: string): Record<string, unknown> {
  const base = publicUrl.replace(/\/+$/, "");
  return {
    extension: [
      {
        url: "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
        extension: [
          { url: "authorize", valueUri: `${base}${SMART_PATHS.authorize}` },
          { url: "token", valueUri: `${base}${SMART_PATHS.token}` },
          { url: "revoke", valueUri: `${base}${SMART_PATHS.revoke}` },
          { url: "introspect", valueUri: `${base}${SMART_PATHS.introspect}` },
        ],
      },
    ],
    service: [
      {
        coding: [
          {
            system: "http://terminology.hl7.org/CodeSystem/restful-security-service",
            code: "SMART-on-FHIR",
          },
        ],
        text: "SMART App Launch 2.x (OAuth 2 authorization code with PKCE); SIWE session tokens",
      },
    ],
    description:
      "SIWE (EIP-4361) sign-in for a bearer session token, or a SMART access token; patient consent enforced on every interaction, and a SMART scope only narrows it",
  };
}
