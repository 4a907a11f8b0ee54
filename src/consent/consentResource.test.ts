import { describe, expect, it } from "vitest";
import type { Address, Hex } from "viem";
import { CONSENT_CATEGORY_SYSTEM, toFhirConsent } from "./consentResource.js";
import { actionMask, categoryMask, purposeMask } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";
import { accountToBytes32, roleToBytes32 } from "./signConsent.js";

const DOCTOR = "0xD0c7000000000000000000000000000000000001" as Address;
const ORG = `0x${"0a".repeat(32)}` as Hex;
const grant: Grant = {
  grantId: `0x${"ab".repeat(32)}`,
  patient: "0x1111111111111111111111111111111111111111",
  granteeKind: "practitioner",
  grantee: accountToBytes32(DOCTOR),
  role: `0x${"0".repeat(64)}`,
  categories: categoryMask(["labs", "mental-health"]),
  purposes: purposeMask(["TREAT", "ETREAT"]),
  actions: actionMask(["read", "write"]),
  notBefore: 1_767_225_600, // 2026-01-01
  notAfter: 1_798_761_600, // 2027-01-01
  salt: `0x${"4".repeat(64)}`,
};

describe("toFhirConsent", () => {
  it("renders an R4 Consent with a permit provision", () => {
    const c = toFhirConsent(grant, { now: 1_780_000_000, recordedAt: 1_767_225_600 });
    expect(c).toMatchObject({
      resourceType: "Consent",
      id: "ab".repeat(32),
      identifier: [{ system: "https://carechain.dev/fhir/NamingSystem/grant-id", value: grant.grantId }],
      status: "active",
      scope: {
        coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentscope", code: "patient-privacy" }],
      },
      category: [{ coding: [{ system: "http://loinc.org", code: "59284-0", display: "Patient Consent" }] }],
      patient: { type: "Patient", identifier: { value: grant.patient } },
      dateTime: "2026-01-01T00:00:00Z",
      policyRule: { coding: [{ code: "OPTIN" }] },
    });
    expect(c.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(c.provision.type).toBe("permit");
    expect(c.provision.period).toEqual({ start: "2026-01-01T00:00:00Z", end: "2027-01-01T00:00:00Z" });
    expect(c.provision.actor).toEqual([
      {
        role: {
          coding: [
            {
              system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
              code: "IRCP",
              display: "information recipient",
            },
          ],
        },
        reference: {
          type: "Practitioner",
          identifier: {
            system: "https://carechain.dev/fhir/NamingSystem/account",
            value: DOCTOR.toLowerCase(),
          },
        },
      },
    ]);
    expect(c.provision.action.map((a) => a.coding[0]?.code)).toEqual(["access", "correct"]);
    expect(c.provision.purpose).toEqual([
      { system: "http://terminology.hl7.org/CodeSystem/v3-ActReason", code: "TREAT" },
      { system: "http://terminology.hl7.org/CodeSystem/v3-ActReason", code: "ETREAT" },
    ]);
    expect(c.provision.class).toEqual([
      { system: CONSENT_CATEGORY_SYSTEM, code: "labs" },
      { system: CONSENT_CATEGORY_SYSTEM, code: "mental-health" },
    ]);
    expect(c.provision.securityLabel?.map((l) => l.code)).toEqual(["PSY"]);
  });

  it("shows revoked and expired grants as inactive", () => {
    expect(toFhirConsent({ ...grant, revokedAt: 1_770_000_000 }, { now: 1_780_000_000 }).status).toBe(
      "inactive",
    );
    expect(toFhirConsent(grant, { now: grant.notAfter }).status).toBe("inactive");
    expect(toFhirConsent(grant, { now: grant.notBefore - 10 }).status).toBe("active");
  });

  it("names organization and role grantees, and a given patient reference", () => {
    const org = toFhirConsent(
      { ...grant, granteeKind: "organization", grantee: ORG, categories: categoryMask(["vitals"]) },
      { patientReference: "Patient/p1" },
    );
    expect(org.patient).toEqual({ reference: "Patient/p1" });
    expect(org.provision.actor[0]?.reference).toEqual({
      type: "Organization",
      identifier: { system: "https://carechain.dev/fhir/NamingSystem/organization-id", value: ORG },
    });
    expect(org.provision.securityLabel).toBeUndefined();

    const role = toFhirConsent({
      ...grant,
      granteeKind: "role",
      grantee: ORG,
      role: roleToBytes32("physician"),
    });
    expect(role.provision.actor[0]?.role.coding.map((c) => c.code)).toEqual(["IRCP", "physician"]);
    expect(role.provision.actor[0]?.reference.type).toBe("Organization");
  });

  it("clamps a far-future window to a valid FHIR dateTime", () => {
    expect(toFhirConsent({ ...grant, notAfter: 2 ** 63 }).provision.period.end).toBe("9999-12-31T23:59:59Z");
  });
});
