import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { BREAK_GLASS_SECONDS, decide, type DecisionRequest } from "./decide.js";
import { GrantIndex } from "./grantIndex.js";
import {
  ALL_NON_SENSITIVE_MASK,
  CATEGORIES,
  PURPOSES,
  SENSITIVE_MASK,
  categoryBit,
  categoryMask,
  isSensitive,
  purposeMask,
  type GranteeKind,
} from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";
import { accountToBytes32, roleToBytes32 } from "./signConsent.js";

import {
  DAY,
  DOCTOR,
  grant,
  indexOf,
  ORG,
  OTHER_ORG,
  PATIENT,
  request,
  T0,
  ZERO,
} from "../../test/support/decideFixtures.js";

describe("decide", () => {
  it("lets the patient do anything with their own data, whatever the case of the address", () => {
    const d = decide(
      new GrantIndex(),
      request({
        principal: { account: PATIENT.toUpperCase().replace("0X", "0x") as Address, kind: "patient" },
        category: "genomics",
        action: "write",
      }),
    );
    expect(d).toEqual({ permit: true, reason: "patient-self" });
  });

  it("compares accounts as lowercase strings, beyond ASCII too", () => {
    const self = (account: string, patient: string) =>
      decide(
        new GrantIndex(),
        request({ principal: { account: account as Address, kind: "patient" }, patient: patient as Address }),
      ).reason;
    // KELVIN SIGN lowercases to an ASCII "k": the old toLowerCase comparison said "same", and so must this.
    expect(self("0x\u212Aab", "0xkAB")).toBe("patient-self");
    expect(self("0x\u212Aab", "0xkAC")).toBe("no-grant");
    expect(self("0xab@", "0xAB`")).toBe("no-grant");
    expect(self("0xab", "0xAB")).toBe("patient-self");
    expect(self("0xab", "0xaB0")).toBe("no-grant");
  });

  it("lets the authoring organization read, not write", () => {
    const principal = { account: DOCTOR, organization: ORG, kind: "practitioner" };
    expect(decide(new GrantIndex(), request({ principal, authorOrganization: ORG }))).toEqual({
      permit: true,
      reason: "author-organization",
    });
    expect(
      decide(new GrantIndex(), request({ principal, authorOrganization: ORG, action: "write" })).permit,
    ).toBe(false);
    expect(decide(new GrantIndex(), request({ principal, authorOrganization: OTHER_ORG })).reason).toBe(
      "no-grant",
    );
  });

  it("permits on a practitioner grant and names it", () => {
    const g = grant();
    expect(decide(indexOf(g), request())).toEqual({ permit: true, reason: "grant", grantId: g.grantId });
  });

  it("permits on an organization grant and on a role grant within the organization", () => {
    const org = grant({ granteeKind: "organization", grantee: ORG });
    const role = grant({ granteeKind: "role", grantee: OTHER_ORG, role: roleToBytes32("physician") });
    const index = indexOf(org, role);
    const someone = "0x2222222222222222222222222222222222222222" as Address;
    expect(
      decide(index, request({ principal: { account: someone, organization: ORG, kind: "practitioner" } }))
        .grantId,
    ).toBe(org.grantId);
    const physician = { account: someone, organization: OTHER_ORG, role: "physician", kind: "practitioner" };
    expect(decide(index, request({ principal: physician })).grantId).toBe(role.grantId);
    const nurse = { ...physician, role: "nurse" };
    expect(decide(index, request({ principal: nurse })).reason).toBe("no-grant");
    const tooLong = { ...physician, role: "x".repeat(40) };
    expect(decide(index, request({ principal: tooLong })).reason).toBe("no-grant");
  });

  it("gives the most informative denial", () => {
    const labs = grant();
    expect(decide(indexOf(labs), request({ category: "imaging" })).reason).toBe("category-not-granted");
    expect(decide(indexOf(labs), request({ category: "mental-health" })).reason).toBe(
      "sensitive-not-granted",
    );
    expect(decide(indexOf(labs), request({ purpose: "HRESCH" })).reason).toBe("purpose-not-granted");
    expect(decide(indexOf(labs), request({ action: "write" })).reason).toBe("action-not-granted");
    expect(decide(indexOf(labs), request({ time: T0 - 1 })).reason).toBe("grant-not-yet-valid");
    expect(decide(indexOf(labs), request({ time: labs.notAfter })).reason).toBe("grant-expired");
    expect(decide(indexOf(labs), request({ time: labs.notAfter - 1 })).permit).toBe(true);
    const revoked = grant({ revokedAt: T0 + 10 });
    const imaging = grant({ categories: categoryMask(["imaging"]) });
    expect(decide(indexOf(imaging, revoked), request()).reason).toBe("revoked");
    expect(decide(new GrantIndex(), request()).reason).toBe("no-grant");
  });

  it("never reads a sensitive category into an all-non-sensitive or wildcard mask", () => {
    const all = grant({ categories: ALL_NON_SENSITIVE_MASK });
    const wildcard = grant({ categories: 0xffffffff });
    for (const g of [all, wildcard]) {
      expect(decide(indexOf(g), request({ category: "genomics" })).reason).toBe("sensitive-not-granted");
      expect(decide(indexOf(g), request({ category: "labs" })).permit).toBe(true);
    }
    const named = grant({ categories: categoryMask(["labs", "genomics"]) });
    expect(decide(indexOf(named), request({ category: "genomics" })).permit).toBe(true);
  });

  describe("break-glass", () => {
    const bg = { allowedByPatient: true, reason: "unconscious in ED", startedAt: T0 };
    const emergency = (o: Partial<DecisionRequest> = {}) =>
      request({ purpose: "ETREAT", time: T0 + 60, breakGlass: bg, ...o });

    it("permits a flagged emergency read when the patient allows it", () => {
      expect(decide(new GrantIndex(), emergency())).toEqual({
        permit: true,
        reason: "break-glass",
        breakGlass: true,
      });
    });

    it("prefers a real grant over breaking the glass", () => {
      const g = grant({ purposes: purposeMask(["ETREAT"]) });
      expect(decide(indexOf(g), emergency())).toEqual({ permit: true, reason: "grant", grantId: g.grantId });
    });

    it.each([
      ["break-glass-not-allowed", { breakGlass: { ...bg, allowedByPatient: false } }],
      ["break-glass-not-practitioner", { principal: { account: DOCTOR, kind: "researcher" } }],
      ["break-glass-purpose", { purpose: "TREAT" }],
      ["break-glass-sensitive", { category: "mental-health" }],
      ["break-glass-action", { action: "write" }],
      ["break-glass-reason-required", { breakGlass: { ...bg, reason: "  " } }],
      ["break-glass-expired", { time: T0 + BREAK_GLASS_SECONDS }],
      ["break-glass-expired", { time: T0 - 1 }],
    ] as Array<[string, Partial<DecisionRequest>]>)("denies with %s", (reason, overrides) => {
      expect(decide(new GrantIndex(), emergency(overrides))).toEqual({ permit: false, reason });
    });
  });
});

describe("decide properties", () => {
  const kinds: GranteeKind[] = ["practitioner", "organization", "role"];
  const arbGrant = fc.record({
    kind: fc.constantFrom(...kinds),
    categories: fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constant(ALL_NON_SENSITIVE_MASK),
      fc.constant(SENSITIVE_MASK),
    ),
    purposes: fc.integer({ min: 0, max: 0xff }),
    actions: fc.integer({ min: 0, max: 3 }),
    notBefore: fc.integer({ min: T0 - 10 * DAY, max: T0 + 10 * DAY }),
    length: fc.integer({ min: 1, max: 20 * DAY }),
    revokedAt: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 3 },
      { arbitrary: fc.integer({ min: T0 - 20 * DAY, max: T0 + 20 * DAY }), weight: 1 },
    ),
  });
  const arbRequest = fc.record({
    category: fc.constantFrom(...CATEGORIES),
    purpose: fc.constantFrom(...PURPOSES),
    action: fc.constantFrom("read" as const, "write" as const),
    time: fc.integer({ min: T0 - 20 * DAY, max: T0 + 30 * DAY }),
    withRole: fc.boolean(),
  });

  type GrantSpec = typeof arbGrant extends fc.Arbitrary<infer T> ? T : never;

  function build(specs: GrantSpec[]): Grant[] {
    return specs.map((s) => {
      const g = grant({
        granteeKind: s.kind,
        grantee: s.kind === "practitioner" ? accountToBytes32(DOCTOR) : ORG,
        role: s.kind === "role" ? roleToBytes32("physician") : ZERO,
        categories: s.categories >>> 0,
        purposes: s.purposes,
        actions: s.actions,
        notBefore: s.notBefore,
        notAfter: s.notBefore + s.length,
      });
      if (s.revokedAt !== undefined) g.revokedAt = s.revokedAt;
      return g;
    });
  }

  it("permits only through a live, unrevoked grant naming the exact sensitive bit", () => {
    let permits = 0;
    fc.assert(
      fc.property(fc.array(arbGrant, { maxLength: 6 }), arbRequest, (specs, r) => {
        const grants = build(specs);
        const principal = {
          account: DOCTOR,
          organization: ORG,
          kind: "practitioner",
          ...(r.withRole ? { role: "physician" } : {}),
        };
        const d = decide(
          indexOf(...grants),
          request({ principal, category: r.category, purpose: r.purpose, action: r.action, time: r.time }),
        );
        if (!d.permit) return;
        permits += 1;
        expect(d.reason).toBe("grant");
        const g = grants.find((x) => x.grantId === d.grantId);
        expect(g).toBeDefined();
        if (!g) return;
        expect(g.revokedAt).toBeUndefined();
        expect(r.time).toBeGreaterThanOrEqual(g.notBefore);
        expect(r.time).toBeLessThan(g.notAfter);
        expect(g.categories & categoryBit(r.category)).not.toBe(0);
        if (isSensitive(r.category)) expect((g.categories & ~categoryMask(CATEGORIES)) >>> 0).toBe(0);
        if (g.granteeKind === "role") expect(r.withRole).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // the property is not vacuous: the generators do reach the permit path
    expect(permits).toBeGreaterThan(20);
  });

  it("never permits on revoked or expired grants alone", () => {
    fc.assert(
      fc.property(fc.array(arbGrant, { minLength: 1, maxLength: 6 }), arbRequest, (specs, r) => {
        const grants = build(specs).map((g, i) =>
          i % 2 === 0 ? { ...g, revokedAt: T0 } : { ...g, notAfter: Math.min(g.notAfter, r.time) },
        );
        const index = indexOf(
          ...grants.map((g) => ({ ...g, notBefore: Math.min(g.notBefore, g.notAfter - 1) })),
        );
        const principal = { account: DOCTOR, organization: ORG, role: "physician", kind: "practitioner" };
        const d = decide(
          index,
          request({ principal, category: r.category, purpose: r.purpose, action: r.action, time: r.time }),
        );
        expect(d.permit).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
