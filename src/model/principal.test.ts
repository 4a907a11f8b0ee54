import { zeroAddress } from "viem";
import { describe, expect, it } from "vitest";
import {
  defaultPurpose,
  requireKind,
  requireOrganization,
  requireRole,
  systemPrincipal,
  type Principal,
} from "./principal.js";

const ORG = `0x${"ab".repeat(32)}` as const;
const practitioner: Principal = {
  account: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  kind: "practitioner",
  organization: ORG,
  role: "nurse",
  purpose: "TREAT",
  authenticatedBy: "siwe-session",
  requestId: "req-1",
};

describe("principal", () => {
  it("builds the system principal of internal jobs", () => {
    expect(systemPrincipal("job-7")).toEqual({
      account: zeroAddress,
      kind: "system",
      purpose: "HOPERAT",
      authenticatedBy: "system",
      requestId: "job-7",
    });
  });

  it("defaults purposes by kind", () => {
    expect(defaultPurpose("patient")).toBe("PATRQT");
    expect(defaultPurpose("practitioner")).toBe("TREAT");
    expect(defaultPurpose("node")).toBe("TREAT");
    expect(defaultPurpose("system")).toBe("HOPERAT");
  });

  it("requireKind passes allowed kinds and refuses others with forbidden", () => {
    expect(() => requireKind(practitioner, "practitioner", "node")).not.toThrow();
    expect(() => requireKind(practitioner, "patient")).toThrow(
      expect.objectContaining({
        kind: "forbidden",
        message: "this action is reserved for patient principals",
        details: "caller is a practitioner",
      }),
    );
    expect(() => requireKind(systemPrincipal("x"), "patient", "node")).toThrow(
      "this action is reserved for patient or node principals",
    );
  });

  it("requireRole returns organization and role, or refuses", () => {
    expect(requireRole(practitioner, "physician", "nurse")).toEqual({ organization: ORG, role: "nurse" });
    expect(() => requireRole(practitioner, "pharmacist")).toThrow(
      expect.objectContaining({
        kind: "forbidden",
        message: "this action is reserved for the roles pharmacist",
      }),
    );
    expect(() => requireRole(systemPrincipal("x"), "admin")).toThrow(
      expect.objectContaining({ kind: "forbidden" }),
    );
  });

  it("requireOrganization compares ids case-insensitively", () => {
    expect(() =>
      requireOrganization(practitioner, ORG.toUpperCase().replace("0X", "0x") as `0x${string}`),
    ).not.toThrow();
    expect(() => requireOrganization(practitioner, `0x${"cd".repeat(32)}`)).toThrow(
      "caller does not act for this organization",
    );
    expect(() => requireOrganization(systemPrincipal("x"), ORG)).toThrow(
      expect.objectContaining({ kind: "forbidden" }),
    );
  });
});
