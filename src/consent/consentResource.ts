import type { Hex } from "viem";
import { bytes32ToAccount, bytes32ToRole } from "./signConsent.js";
import { actionsOf, categoriesOf, purposesOf, type Category } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";

/** carechain's CodeSystem for its data categories (the `Category` names of model.ts). */
export const CONSENT_CATEGORY_SYSTEM = "https://carechain.dev/fhir/CodeSystem/consent-category";
/** carechain's CodeSystem for practitioner roles within an organization. */
export const PRACTITIONER_ROLE_SYSTEM = "https://carechain.dev/fhir/CodeSystem/practitioner-role";
/** Identifier system of grant ids (EIP-712 struct hashes of signed grants). */
export const GRANT_ID_SYSTEM = "https://carechain.dev/fhir/NamingSystem/grant-id";
/** Identifier system of ledger accounts (patients, practitioners). */
export const ACCOUNT_SYSTEM = "https://carechain.dev/fhir/NamingSystem/account";
/** Identifier system of organization ids (bytes32). */
export const ORGANIZATION_ID_SYSTEM = "https://carechain.dev/fhir/NamingSystem/organization-id";

const ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/** HL7 v3 ActCode information-sensitivity labels of the sensitive categories. */
const SENSITIVITY_LABEL: Partial<Record<Category, { code: string; display: string }>> = {
  "mental-health": { code: "PSY", display: "psychiatry disorder information sensitivity" },
  "sexual-health": { code: "SEX", display: "sexuality and reproductive health information sensitivity" },
  "substance-use": { code: "ETH", display: "substance abuse information sensitivity" },
  genomics: { code: "GDIS", display: "genetic disease information sensitivity" },
};

export interface Coding {
  system: string;
  code: string;
  display?: string;
}
export interface CodeableConcept {
  coding: Coding[];
  text?: string;
}
export interface Reference {
  reference?: string;
  type?: string;
  identifier?: { system: string; value: string };
  display?: string;
}

/** The subset of the FHIR R4 Consent resource carechain produces (http://hl7.org/fhir/R4/consent.html). */
export interface FhirConsent {
  resourceType: "Consent";
  id: string;
  identifier: Array<{ system: string; value: string }>;
  status: "active" | "inactive" | "rejected";
  scope: CodeableConcept;
  category: CodeableConcept[];
  patient: Reference;
  dateTime?: string;
  policyRule: CodeableConcept;
  provision: {
    type: "permit";
    period: { start: string; end: string };
    actor: Array<{ role: CodeableConcept; reference: Reference }>;
    action: CodeableConcept[];
    purpose: Coding[];
    class: Coding[];
    securityLabel?: Coding[];
  };
}

export interface ToFhirConsentOptions {
  /** Unix seconds; a grant past its window shows as inactive. Default: the current time. */
  now?: number;
  /** Literal reference to the Patient resource, e.g. "Patient/123"; default: by account identifier. */
  patientReference?: string;
  /** When the grant was recorded (block time), as unix seconds. */
  recordedAt?: number;
}

/**
 * The FHIR R4 Consent view of a grant (http://hl7.org/fhir/R4/consent.html): a patient-privacy
 * opt-in whose single permit provision carries the grantee, period, actions, purposes (v3-ActReason)
 * and data categories (carechain CodeSystem, with v3 sensitivity labels for sensitive ones).
 * Revoked or expired grants are `inactive`.
 * @param grant - the grant as the index holds it
 * @param opts - current time, patient reference, record time
 * @returns the Consent resource, with the grant id as its identifier (and, without `0x`, its id)
 */
export function toFhirConsent(grant: Readonly<Grant>, opts: ToFhirConsentOptions = {}): FhirConsent {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const categories = categoriesOf(grant.categories);
  const labels = categories.flatMap((c) => {
    const label = SENSITIVITY_LABEL[c];
    return label ? [{ system: ACT_CODE, ...label }] : [];
  });
  const active = grant.revokedAt === undefined && now < grant.notAfter;
  const consent: FhirConsent = {
    resourceType: "Consent",
    id: grant.grantId.slice(2).toLowerCase(),
    identifier: [{ system: GRANT_ID_SYSTEM, value: grant.grantId.toLowerCase() }],
    status: active ? "active" : "inactive",
    scope: {
      coding: [
        {
          system: "http://terminology.hl7.org/CodeSystem/consentscope",
          code: "patient-privacy",
          display: "Privacy Consent",
        },
      ],
    },
    category: [{ coding: [{ system: "http://loinc.org", code: "59284-0", display: "Patient Consent" }] }],
    patient: opts.patientReference
      ? { reference: opts.patientReference }
      : { type: "Patient", identifier: { system: ACCOUNT_SYSTEM, value: grant.patient.toLowerCase() } },
    policyRule: { coding: [{ system: ACT_CODE, code: "OPTIN", display: "opt-in" }] },
    provision: {
      type: "permit",
      period: { start: isoSeconds(grant.notBefore), end: isoSeconds(grant.notAfter) },
      actor: [granteeActor(grant)],
      action: actionsOf(grant.actions).map((a) => ({
        coding: [
          {
            system: "http://terminology.hl7.org/CodeSystem/consentaction",
            code: a === "read" ? "access" : "correct",
            display: a === "read" ? "Access" : "Access and Correct",
          },
        ],
      })),
      purpose: purposesOf(grant.purposes).map((p) => ({ system: ACT_REASON, code: p })),
      class: categories.map((c) => ({ system: CONSENT_CATEGORY_SYSTEM, code: c })),
    },
  };
  if (labels.length > 0) consent.provision.securityLabel = labels;
  if (opts.recordedAt !== undefined) consent.dateTime = isoSeconds(opts.recordedAt);
  return consent;
}

/** The grantee as the information recipient (v3 ParticipationType IRCP) of the provision. */
function granteeActor(grant: Readonly<Grant>): { role: CodeableConcept; reference: Reference } {
  const recipient: Coding = {
    system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
    code: "IRCP",
    display: "information recipient",
  };
  switch (grant.granteeKind) {
    case "practitioner": {
      const account = bytes32ToAccount(grant.grantee as Hex).toLowerCase();
      return {
        role: { coding: [recipient] },
        reference: { type: "Practitioner", identifier: { system: ACCOUNT_SYSTEM, value: account } },
      };
    }
    case "organization":
      return {
        role: { coding: [recipient] },
        reference: {
          type: "Organization",
          identifier: { system: ORGANIZATION_ID_SYSTEM, value: grant.grantee.toLowerCase() },
        },
      };
    case "role": {
      const role = bytes32ToRole(grant.role as Hex);
      return {
        role: {
          coding: [recipient, { system: PRACTITIONER_ROLE_SYSTEM, code: role }],
          text: `${role} within the organization`,
        },
        reference: {
          type: "Organization",
          identifier: { system: ORGANIZATION_ID_SYSTEM, value: grant.grantee.toLowerCase() },
        },
      };
    }
  }
}

function isoSeconds(seconds: number): string {
  const ms = seconds * 1000;
  // uint64 windows may reach past the largest Date; clamp to FHIR's year 9999.
  return new Date(Math.min(ms, 253402300799000)).toISOString().replace(".000Z", "Z");
}
