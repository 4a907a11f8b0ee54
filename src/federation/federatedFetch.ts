/**
 * The requesting side of federation: a practitioner at this node asks for a patient's record
 * across the consortium. The node finds the holders in its RecordLocator mirror, asks each
 * holder's `/federation/fetch` in parallel (the practitioner's signed AccessRequest plus this
 * node's request signature), with a timeout, and merges what comes back with its own records.
 * A holder that is down or refuses becomes an OperationOutcome entry, never a failure.
 */
import type { Kysely } from "kysely";
import type { Address, Hex, LocalAccount } from "viem";
import type { SignedGrantJson } from "../consent/signConsent.js";
import type { Principal } from "../model/principal.js";
import { contentHash } from "../crypto/canonicalJson.js";
import type { FhirResource } from "../records/fhirTypes.js";
import type { Auditor } from "../audit/auditor.js";
import type { RecordRepository } from "../records/repository.js";
import type { Schema } from "../store/schema.js";
import { locate, type RecordLocation } from "./locatorMirror.js";
import { signNodeRequest, type SignedAccessRequest } from "./nodeAuth.js";

/** Largest response accepted from (and served to) a peer. */
export const MAX_FEDERATED_BYTES = 16 * 1024 * 1024;
/** `meta.source` of a resource held by `organization`. */
export const sourceOf = (organization: string): string =>
  `urn:carechain:organization:${organization.toLowerCase()}`;

export interface FederatedFetchDeps {
  db: Kysely<Schema>;
  records: RecordRepository;
  auditor: Auditor;
  /** This node's key: signs the requests to peers. */
  account: LocalAccount;
  organizationId: Hex;
  /** The patient's signed grants naming the principal, presented to every holder. */
  termsNaming(principal: Principal, patient: Address): Promise<SignedGrantJson[]>;
  timeoutMs?: number;
}

/** What one peer answered. */
export interface PeerResult {
  organization: Hex;
  status: "ok" | "refused" | "unreachable";
  resources: FhirResource[];
  detail?: string;
}

interface BundleEntry {
  fullUrl?: string;
  resource: FhirResource;
  search: { mode: "match" | "outcome" };
}

/**
 * Local + remote `$everything` for a patient account, merged: each resource tagged with the
 * organization it came from (`meta.source`), identical resources (canonical JSON hash without
 * `meta`) kept once, and an OperationOutcome entry (search mode `outcome`) per holder that was
 * unreachable or refused. This node logs a `receive` audit entry per remote source.
 * @param deps - Database, records, audit, node key, own organization, timeout.
 * @param principal - The practitioner, already authenticated at this node.
 * @param signed - The practitioner's AccessRequest, forwarded to every holder.
 * @returns A FHIR searchset Bundle.
 */
export async function federatedEverything(
  deps: FederatedFetchDeps,
  principal: Principal,
  signed: SignedAccessRequest,
): Promise<FhirResource> {
  const request = signed.accessRequest;
  const own = deps.organizationId.toLowerCase();
  // locators carry no categories: every other holder is asked, and decides under its consent
  const holders = (await locate(deps.db, request.patient)).filter((l) => l.organization !== own);
  // the ledger holds no terms: a holder that has not received them yet gets them with the request
  const grants = holders.length > 0 ? await deps.termsNaming(principal, request.patient) : [];
  const [local, ...remote] = await Promise.all([
    deps.records.everythingForAccount(principal, request.patient, request.categories),
    ...holders.map((h) => fetchFromPeer(deps, h, signed, grants)),
  ]);
  for (const r of remote) await auditReceive(deps, principal, request.patient, r);

  const seen = new Set<string>();
  const entries: BundleEntry[] = [];
  const add = (resource: FhirResource, organization: string) => {
    const { meta, ...content } = resource;
    const key = contentHash(content);
    if (seen.has(key)) return;
    seen.add(key);
    const tagged = { ...resource, meta: { ...(meta as object | undefined), source: sourceOf(organization) } };
    entries.push({
      fullUrl: `${resource.resourceType}/${resource.id}`,
      resource: tagged,
      search: { mode: "match" },
    });
  };
  for (const e of bundleResources(local)) add(e, own);
  for (const r of remote) for (const e of r.resources) add(e, r.organization);
  const matches = entries.length;
  for (const r of remote) {
    if (r.status === "ok") continue;
    entries.push({
      resource: {
        resourceType: "OperationOutcome",
        issue: [
          {
            severity: "warning",
            code: r.status === "unreachable" ? "transient" : "forbidden",
            diagnostics: `organization ${r.organization} ${r.status === "unreachable" ? "is unreachable" : "refused"}${r.detail ? `: ${r.detail}` : ""}`,
          },
        ],
      },
      search: { mode: "outcome" },
    });
  }
  return { resourceType: "Bundle", type: "searchset", total: matches, entry: entries };
}

/**
 * Calls one holder's `/federation/fetch` with the signed AccessRequest and this node's signature.
 * @param deps - Node key and timeout.
 * @param holder - The holder's location (endpoint from ParticipantRegistry).
 * @param signed - The practitioner's AccessRequest.
 * @param grants - The patient's signed grants the practitioner relies on (the holder checks each against the ledger).
 * @returns What the holder answered, or why it did not.
 */
export async function fetchFromPeer(
  deps: Pick<FederatedFetchDeps, "account" | "timeoutMs">,
  holder: Pick<RecordLocation, "organization" | "endpoint" | "active">,
  signed: SignedAccessRequest,
  grants: readonly SignedGrantJson[] = [],
): Promise<PeerResult> {
  const base = { organization: holder.organization, resources: [] as FhirResource[] };
  if (!holder.active || holder.endpoint === "") {
    return { ...base, status: "unreachable", detail: "organization is not active in the registry" };
  }
  let url: URL;
  try {
    url = new URL(
      "federation/fetch",
      holder.endpoint.endsWith("/") ? holder.endpoint : `${holder.endpoint}/`,
    );
  } catch {
    return { ...base, status: "unreachable", detail: "registered endpoint is not a URL" };
  }
  const body = JSON.stringify({
    accessRequest: signed.accessRequest,
    signature: signed.signature,
    ...(grants.length > 0 ? { grants } : {}),
  });
  try {
    const headers = await signNodeRequest(deps.account, {
      method: "POST",
      path: `${url.pathname}${url.search}`,
      body,
    });
    const res = await fetch(url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", accept: "application/fhir+json" },
      body,
      signal: AbortSignal.timeout(deps.timeoutMs ?? 5000),
      cache: "no-store",
    });
    const length = Number(res.headers.get("content-length") ?? "0");
    if (length > MAX_FEDERATED_BYTES) {
      await res.body?.cancel();
      return { ...base, status: "refused", detail: "response too large" };
    }
    const text = await res.text();
    if (text.length > MAX_FEDERATED_BYTES)
      return { ...base, status: "refused", detail: "response too large" };
    const parsed = JSON.parse(text) as FhirResource;
    if (!res.ok) {
      const issue = (parsed.issue as Array<{ diagnostics?: string }> | undefined)?.[0];
      return {
        ...base,
        status: "refused",
        detail: `HTTP ${res.status}${issue?.diagnostics ? ` ${issue.diagnostics}` : ""}`,
      };
    }
    return { ...base, status: "ok", resources: bundleResources(parsed) };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { ...base, status: "unreachable", detail: timedOut ? "timed out" : "connection failed" };
  }
}

/** The `match` resources of a searchset Bundle. */
function bundleResources(bundle: FhirResource): FhirResource[] {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as Array<Partial<BundleEntry>>) : [];
  return entries
    .filter((e) => e.resource !== undefined && (e.search?.mode ?? "match") === "match")
    .map((e) => e.resource as FhirResource);
}

async function auditReceive(
  deps: FederatedFetchDeps,
  principal: Principal,
  patient: Address,
  result: PeerResult,
): Promise<void> {
  const refs = result.resources
    .map((r) => `${r.resourceType}/${r.id}`)
    .filter((ref) => /^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9.-]{1,64}$/u.test(ref));
  await deps.auditor.record(principal, {
    action: "receive",
    decision: result.status === "ok" ? "permit" : "deny",
    patient,
    resources: refs,
    reason:
      `from organization ${result.organization}: ${result.status}${result.detail ? ` (${result.detail})` : ""}`.slice(
        0,
        500,
      ),
  });
}
