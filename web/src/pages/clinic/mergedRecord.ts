/**
 * The patient's record as a clinician may see it, across organizations, each resource with the
 * organization it came from. A practitioner of this node's organization signs an AccessRequest
 * (EIP-712) in the browser and asks every holder (`/federation/everything`); a practitioner of
 * another organization reads what this node holds (`/federation/everything-here`). Either way each
 * holder decides under the patient's consent, and nothing says what it withheld.
 */
import type { Api, PublicConfig } from "../../api/client";
import type { Identity } from "../../auth/session";
import type { Signer } from "../../auth/signer";
import type { Resource } from "../../lib/fhir";
import {
  CATEGORIES,
  SENSITIVE_CATEGORIES,
  categoryMask,
  purposeMask,
  type Purpose,
} from "../../../../src/model/vocabulary.js";

/** EIP-712 domain and types of src/federation/nodeAuth.ts (AccessRequest). */
const FEDERATION_DOMAIN = { name: "carechain Federation", version: "1" } as const;
const ACCESS_REQUEST_TYPES = {
  AccessRequest: [
    { name: "patient", type: "address" },
    { name: "requester", type: "address" },
    { name: "requesterOrganization", type: "bytes32" },
    { name: "categories", type: "uint32" },
    { name: "purpose", type: "uint32" },
    { name: "expiry", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

interface Bundle {
  entry?: Array<{ resource: Resource; search?: { mode?: string } }>;
}

const hex = (bytes: Uint8Array) =>
  `0x${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}` as const;

/**
 * @param sensitiveShared - sensitive categories the patient's grants name (asked for one by one)
 * @returns the resources and whether the view spans the consortium
 */
export async function mergedRecord(
  api: Api,
  who: { identity: Identity; signer: Signer | undefined; config: PublicConfig },
  patient: `0x${string}`,
  purpose: Purpose,
  sensitiveShared: readonly string[],
): Promise<{ resources: Resource[]; federated: boolean }> {
  const { identity, signer, config } = who;
  const ownOrganization =
    identity.organization !== undefined &&
    identity.organization.toLowerCase() === config.organization.id.toLowerCase();
  if (ownOrganization && signer && identity.organization) {
    const categories = CATEGORIES.filter(
      (c) => !SENSITIVE_CATEGORIES.includes(c) || sensitiveShared.includes(c),
    );
    const request = {
      patient,
      requester: identity.account,
      requesterOrganization: identity.organization,
      categories: categoryMask(categories),
      purpose: purposeMask([purpose]),
      expiry: Math.floor(Date.now() / 1000) + 300,
      nonce: hex(crypto.getRandomValues(new Uint8Array(32))),
    };
    const signature = await signer.signTypedData({
      domain: { ...FEDERATION_DOMAIN, chainId: config.chainId },
      types: ACCESS_REQUEST_TYPES,
      primaryType: "AccessRequest",
      message: { ...request, expiry: BigInt(request.expiry) },
    });
    const header = btoa(JSON.stringify({ accessRequest: request, signature }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    const bundle = await api.get<Bundle>(`/federation/everything?patient=${patient}`, {
      purpose,
      headers: { "x-carechain-access-request": header },
    });
    return { resources: matches(bundle), federated: true };
  }
  const bundle = await api.get<Bundle>(`/federation/everything-here?patient=${patient}`, { purpose });
  return { resources: matches(bundle), federated: false };
}

const matches = (b: Bundle): Resource[] =>
  (b.entry ?? []).filter((e) => (e.search?.mode ?? "match") === "match").map((e) => e.resource);
