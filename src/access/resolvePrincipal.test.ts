import { describe, expect, it } from "vitest";
import { chooseRole, parsePurpose, principalFromSession, type RoleChoice } from "./resolvePrincipal.js";
import type { SessionClaims } from "./sessionToken.js";

const ORG_A = `0x${"0a".repeat(32)}` as const;
const ORG_B = `0x${"0b".repeat(32)}` as const;
const base = {
  iss: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
  sub: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  aud: "carechain",
  iat: 1,
  exp: 2,
  jti: "j",
} as const;
const patientClaims: SessionClaims = { ...base, kind: "patient" };
const doctorClaims: SessionClaims = { ...base, kind: "practitioner", organization: ORG_A, role: "physician" };

describe("principalFromSession", () => {
  it("builds a patient principal, PATRQT by default", () => {
    expect(principalFromSession(patientClaims, { requestId: "r1" })).toEqual({
      account: base.sub,
      kind: "patient",
      purpose: "PATRQT",
      authenticatedBy: "siwe-session",
      requestId: "r1",
    });
  });

  it("builds a practitioner principal, TREAT by default, or the declared purpose", () => {
    expect(principalFromSession(doctorClaims, { requestId: "r2" })).toMatchObject({
      kind: "practitioner",
      organization: ORG_A,
      role: "physician",
      purpose: "TREAT",
    });
    expect(principalFromSession(doctorClaims, { requestId: "r3", purpose: " ETREAT " }).purpose).toBe(
      "ETREAT",
    );
    expect(principalFromSession(doctorClaims, { requestId: "r4", purpose: "" }).purpose).toBe("TREAT");
  });

  it("refuses an unknown purpose without repeating it", () => {
    expect(() => principalFromSession(doctorClaims, { requestId: "r", purpose: "treat" })).toThrow(
      expect.objectContaining({ kind: "invalid", message: "unknown purpose of use" }),
    );
    expect(() => parsePurpose("practitioner", "<script>alert(1)</script>")).toThrow(
      expect.objectContaining({ kind: "invalid", message: "unknown purpose of use" }),
    );
  });

  it("refuses institutional purposes for patients", () => {
    expect(parsePurpose("patient", "PATRQT")).toBe("PATRQT");
    for (const purpose of ["TREAT", "ETREAT", "HRESCH"]) {
      expect(() => principalFromSession(patientClaims, { requestId: "r", purpose })).toThrow(
        expect.objectContaining({
          kind: "forbidden",
          message: `purpose of use '${purpose}' is not available to patients`,
        }),
      );
    }
  });
});

describe("chooseRole", () => {
  const nurseA: RoleChoice = { kind: "practitioner", organization: ORG_A, role: "nurse" };
  const adminB: RoleChoice = { kind: "practitioner", organization: ORG_B, role: "admin" };
  const nodeA: RoleChoice = { kind: "node", organization: ORG_A };

  it("makes an account with no role a patient of its own data", () => {
    expect(chooseRole([])).toEqual({ kind: "patient" });
    expect(chooseRole([{ kind: "patient" }])).toEqual({ kind: "patient" });
  });

  it("takes the only role held without a selector", () => {
    expect(chooseRole([nurseA])).toEqual(nurseA);
  });

  it("asks for a selector when several roles are held", () => {
    expect(() => chooseRole([{ kind: "patient" }, nurseA])).toThrow(
      expect.objectContaining({ kind: "invalid", message: "account holds several roles: choose one" }),
    );
    expect(chooseRole([{ kind: "patient" }, nurseA, adminB], { organization: ORG_B })).toEqual(adminB);
    expect(chooseRole([nurseA, nodeA], { kind: "node" })).toEqual(nodeA);
    expect(chooseRole([nurseA, adminB], { role: "nurse" })).toEqual(nurseA);
    expect(
      chooseRole([nurseA, nodeA], {
        organization: ORG_A.toUpperCase().replace("0X", "0x") as `0x${string}`,
        kind: "practitioner",
      }),
    ).toEqual(nurseA);
  });

  it("refuses a role the account does not hold, but always allows patient", () => {
    expect(() => chooseRole([nurseA], { role: "physician" })).toThrow(
      expect.objectContaining({ kind: "forbidden", message: "account holds no such role" }),
    );
    expect(() => chooseRole([], { kind: "practitioner" })).toThrow(
      expect.objectContaining({ kind: "forbidden" }),
    );
    expect(chooseRole([nurseA], { kind: "patient" })).toEqual({ kind: "patient" });
    expect(() => chooseRole([nurseA], { kind: "patient", organization: ORG_A })).toThrow(
      expect.objectContaining({ kind: "invalid" }),
    );
  });
});
