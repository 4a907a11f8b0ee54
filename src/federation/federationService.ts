/**
 * The federation room's one entry for the API: every pipeline a federation route or the FHIR
 * `$everything?federated=true` operation runs lives here, so the routes only parse and call.
 * - `serveFetch`: another node asks for a patient's record (node signature + practitioner
 *   AccessRequest, and the signed terms of the patient's grants to the practitioner, which this
 *   node accepts only against the ledger's commitments), decided and audited like a local read.
 * - `acceptGrant`: another node passes on a patient's signed grant terms (grantDistribution.ts).
 * - `everything` / `everythingOfPatient`: a practitioner of this node asks across the consortium.
 * - `locate`: which organizations hold data for an account, for signed-in practitioners and nodes
 *   (and the patient themself), audited in the patient's log; never a category.
 * - `discoverable` / `setDiscoverable`: the patient's opt-out of this organization's discovery.
 */
import type { Kysely } from "kysely";
import { isAddressEqual, type Address, type Hex, type LocalAccount } from "viem";
import type { Auditor, AuditFacts } from "../audit/auditor.js";
import type { ConsentGate } from "../consent/consentGate.js";
import type { AcceptedTerms, ConsentService } from "../consent/consentService.js";
import { CATEGORIES } from "../model/vocabulary.js";
import { requireKind, type Principal } from "../model/principal.js";
import { BaseError } from "../errors/BaseError.js";
import type { FhirResource } from "../records/fhirTypes.js";
import type { RecordRepository } from "../records/repository.js";
import type { Schema } from "../store/schema.js";
import { federatedEverything, MAX_FEDERATED_BYTES, sourceOf } from "./federatedFetch.js";
import { locate } from "./locatorMirror.js";
import type { LocatorPublisher } from "./locatorPublisher.js";
import {
  accessRequestPrincipal,
  decodeAccessRequestHeader,
  verifyAccessRequest,
  type SignedAccessRequest,
  type VerifiedNode,
} from "./nodeAuth.js";

interface HereEntry {
  fullUrl?: string;
  resource: FhirResource & { meta?: Record<string, unknown> };
  search?: { mode?: string };
}

/** Most signed grants a fetch may present. */
export const MAX_PRESENTED_GRANTS = 16;

/** A fetch's body: the AccessRequest, and the patient's signed grants the requester relies on. */
export interface FetchRequest extends SignedAccessRequest {
  grants?: readonly unknown[] | undefined;
}

/** Header that carries a practitioner's signed AccessRequest (base64url JSON). */
export const ACCESS_REQUEST_HEADER = "x-carechain-access-request";

export interface FederationServiceDeps {
  db: Kysely<Schema>;
  records: RecordRepository;
  gate: ConsentGate;
  consents: Pick<ConsentService, "acceptTerms" | "termsNaming">;
  auditor: Auditor;
  locators: LocatorPublisher;
  /** This node's key (signs requests to peers; named in audit entries). */
  account: LocalAccount;
  organizationId: Hex;
  chainId: number;
  /** Per-peer timeout of a federated fetch (ms). */
  peerTimeoutMs?: number;
}

/** What `/federation/locate` answers: holders and their endpoints, never what they hold. */
export interface Located {
  patient: Address;
  locations: Array<{
    organization: Hex;
    updatedAt: number;
    endpoint: string;
    node: Address | undefined;
    active: boolean;
  }>;
}

/**
 * The answer for a patient this node does not know, and, word for word, for one the caller may
 * not see: a refusal must not confirm that the patient exists here.
 */
function unknownPatient(): BaseError {
  return new BaseError("not-found", "the patient is not known here", { expression: "id" });
}

export class FederationService {
  readonly #d: FederationServiceDeps;

  constructor(deps: FederationServiceDeps) {
    this.#d = deps;
  }

  /**
   * Serves another node: the AccessRequest must come from an active practitioner of the calling
   * node's organization; the consent decision and audit are those of a local read.
   * @param node - The verified calling node.
   * @param signed - The practitioner's signed AccessRequest and the presented grants (the request body).
   * @param requestId - Correlation id.
   * @returns The searchset Bundle as JSON text.
   */
  async serveFetch(node: VerifiedNode, signed: FetchRequest, requestId: string): Promise<string> {
    const verified = await verifyAccessRequest(this.#d.db, signed, {
      chainId: this.#d.chainId,
      organization: node.organization.id,
    });
    const principal = accessRequestPrincipal(verified, requestId);
    // a presented grant must be the patient's own and match a commitment, or the fetch is refused
    for (const grant of signed.grants ?? []) {
      const patient = (grant as { grant?: { patient?: unknown } } | null)?.grant?.patient;
      if (typeof patient !== "string" || !isAddressEqual(patient as Address, verified.patient)) {
        throw new BaseError("invalid", "a presented grant names another patient", { expression: "grants" });
      }
      await this.#d.consents.acceptTerms(grant, principal);
    }
    const bundle = await this.#d.records.everythingForAccount(
      principal,
      verified.patient,
      verified.categories,
    );
    if (bundle.total === 0 && hasSuppressed(bundle)) {
      throw new BaseError("forbidden", "access denied by the patient's consent", { code: "forbidden" });
    }
    const text = JSON.stringify(bundle);
    if (Buffer.byteLength(text, "utf8") > MAX_FEDERATED_BYTES) {
      throw new BaseError("too-large", "the record exceeds the federation response limit", {
        details: `limit ${MAX_FEDERATED_BYTES} bytes; ask for fewer categories`,
      });
    }
    return text;
  }

  /**
   * Accepts a patient's signed grant terms that another node passes on; they count here only if
   * they match the patient's commitment on the ledger (see `ConsentService.acceptTerms`).
   * @param node - The verified calling node.
   * @param body - `{grant, signature}`.
   * @param requestId - Correlation id.
   */
  async acceptGrant(node: VerifiedNode, body: unknown, requestId: string): Promise<AcceptedTerms> {
    return this.#d.consents.acceptTerms(body, {
      account: node.node,
      kind: "node",
      organization: node.organization.id,
      purpose: "HOPERAT",
      authenticatedBy: "node-signature",
      requestId,
    });
  }

  /**
   * A patient's record across the consortium for a practitioner of this node, authenticated by
   * their signed AccessRequest (`ACCESS_REQUEST_HEADER`), which must name `patient`.
   * @param header - The header's value, if any.
   * @param patient - The patient's account.
   * @param requestId - Correlation id.
   */
  async everything(header: string | undefined, patient: Address, requestId: string): Promise<FhirResource> {
    const { signed, principal } = await this.#practitioner(header, requestId);
    if (!isAddressEqual(signed.accessRequest.patient, patient)) {
      throw new BaseError("invalid", "the AccessRequest names another patient", { expression: "patient" });
    }
    return this.#merged(principal, signed);
  }

  /**
   * `Patient/{id}/$everything?federated=true`: the same merged view, keyed by a Patient id of this
   * node. Decided before anything is fetched: the AccessRequest's signer must be allowed to read
   * something of this patient here (a grant or the authoring-organization rule, per category),
   * and the AccessRequest must name the account linked to the Patient. The decision is audited in
   * the patient's log; a refused caller gets exactly the answer of an unknown patient.
   * @param header - The `ACCESS_REQUEST_HEADER` value, if any.
   * @param patientId - FHIR Patient id at this node.
   * @param requestId - Correlation id.
   */
  async everythingOfPatient(
    header: string | undefined,
    patientId: string,
    requestId: string,
  ): Promise<FhirResource> {
    const { signed, principal } = await this.#practitioner(header, requestId);
    const account = await this.#d.records.patientAccount(patientId);
    if (account === undefined) throw unknownPatient();
    const decider = this.#d.gate.forPatient(principal, account, "read");
    const own = this.#d.organizationId;
    const permitted = CATEGORIES.filter(
      (c) => decider.decide([c], own).permit || decider.decide([c], undefined).permit,
    );
    const sameAccount = isAddressEqual(signed.accessRequest.patient, account);
    const permit = sameAccount && permitted.length > 0;
    await this.#audit(principal, {
      action: permit ? "fetch" : "deny",
      decision: permit ? "permit" : "deny",
      patient: account,
      reason: permit
        ? "federated $everything"
        : sameAccount
          ? "federated $everything: nothing of this patient may be read"
          : "federated $everything: the AccessRequest names another patient",
    });
    if (!permit) throw unknownPatient();
    return this.#merged(principal, signed);
  }

  /**
   * The patient's record held at this node that a signed-in practitioner may see (decided and
   * audited per resource like any read), each resource tagged with this organization as its
   * source (`meta.source`): what a clinician of any organization reads here with a session, and
   * this node's part of {@link everything}. Only what is shown: no count or trace of what consent
   * withheld, so a patient with hidden data answers like one without, or an unknown account.
   * @param principal - The signed-in practitioner.
   * @param patient - The patient's account.
   */
  async everythingHere(principal: Principal, patient: Address): Promise<FhirResource> {
    requireKind(principal, "practitioner");
    const bundle = await this.#d.records.everythingForAccount(principal, patient);
    const source = sourceOf(this.#d.organizationId);
    const entry = (Array.isArray(bundle.entry) ? (bundle.entry as HereEntry[]) : [])
      .filter((e) => e.search?.mode === "match")
      .map((e) => ({ ...e, resource: { ...e.resource, meta: { ...e.resource.meta, source } } }));
    return { resourceType: "Bundle", type: "searchset", total: entry.length, entry };
  }

  /**
   * Which organizations hold data for `patient` (from this node's RecordLocator mirror). Only a
   * signed-in practitioner or node, or the patient themself; every call is an entry in the
   * patient's access log. Nothing about categories: what a requester may receive is decided by
   * each holder under the patient's consent.
   * @param principal - The signed-in caller.
   * @param patient - The patient's account.
   */
  async locate(principal: Principal, patient: Address): Promise<Located> {
    const self = principal.kind === "patient" && isAddressEqual(principal.account, patient);
    if (!self) requireKind(principal, "practitioner", "node");
    const locations = await locate(this.#d.db, patient);
    await this.#audit(principal, {
      action: "search",
      decision: "permit",
      patient,
      reason: `record locators: ${locations.length} holder(s)`,
    });
    return { patient, locations };
  }

  /**
   * The calling patient's discovery setting for this organization.
   * @param principal - A signed-in patient.
   */
  async discoverable(principal: Principal): Promise<{ patient: Address; discoverable: boolean }> {
    requireKind(principal, "patient");
    return {
      patient: principal.account,
      discoverable: await this.#d.locators.discoverable(principal.account),
    };
  }

  /**
   * Sets the calling patient's discovery setting for this organization: opted out, this node
   * withdraws its RecordLocator entry and publishes none until the patient opts back in.
   * @param principal - A signed-in patient.
   * @param discoverable - False to opt out.
   */
  async setDiscoverable(
    principal: Principal,
    discoverable: boolean,
  ): Promise<{ patient: Address; discoverable: boolean }> {
    requireKind(principal, "patient");
    await this.#d.locators.setDiscoverable(principal.account, discoverable);
    return { patient: principal.account, discoverable };
  }

  /** Verifies the practitioner's AccessRequest header (signature, membership, nonce). */
  async #practitioner(
    header: string | undefined,
    requestId: string,
  ): Promise<{ signed: SignedAccessRequest; principal: Principal }> {
    if (header === undefined) {
      throw new BaseError("unauthenticated", `send the signed AccessRequest in ${ACCESS_REQUEST_HEADER}`);
    }
    const signed = decodeAccessRequestHeader(header);
    const verified = await verifyAccessRequest(this.#d.db, signed, {
      chainId: this.#d.chainId,
      organization: this.#d.organizationId,
    });
    return { signed, principal: accessRequestPrincipal(verified, requestId) };
  }

  #merged(principal: Principal, signed: SignedAccessRequest): Promise<FhirResource> {
    const d = this.#d;
    return federatedEverything(
      {
        db: d.db,
        records: d.records,
        auditor: d.auditor,
        account: d.account,
        organizationId: d.organizationId,
        termsNaming: (who, patient) => d.consents.termsNaming(who, patient),
        ...(d.peerTimeoutMs ? { timeoutMs: d.peerTimeoutMs } : {}),
      },
      principal,
      signed,
    );
  }

  async #audit(principal: Principal, facts: AuditFacts): Promise<void> {
    await this.#d.auditor.record(principal, facts);
  }
}

function hasSuppressed(bundle: FhirResource): boolean {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as Array<{ search?: { mode?: string } }>) : [];
  return entries.some((e) => e.search?.mode === "outcome");
}
