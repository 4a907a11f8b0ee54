import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringToHex, type Address, type Hex } from "viem";
import { BREAK_GLASS_SECONDS, decide, type Decision, type DecisionRequest } from "./decide.js";
import { GrantIndex } from "./grantIndex.js";
import {
  ALL_NON_SENSITIVE_MASK,
  CATEGORIES,
  KNOWN_CATEGORY_MASK,
  PURPOSES,
  SENSITIVE_MASK,
  categoryBit,
  categoryMask,
  isSensitive,
  purposeBit,
  purposeMask,
  actionBit,
  actionMask,
  type Grant,
  type GranteeKind,
} from "./model.js";
import { accountToBytes32, roleToBytes32 } from "./signConsent.js";

const PATIENT = "0x1111111111111111111111111111111111111111" as Address;
const DOCTOR = "0xD0c7000000000000000000000000000000000001" as Address;
const ORG = `0x${"0a".repeat(32)}` as Hex;
const OTHER_ORG = `0x${"0b".repeat(32)}` as Hex;
const ZERO = `0x${"0".repeat(64)}` as Hex;
const T0 = 1_700_000_000;
const DAY = 86_400;

let counter = 0;
function grant(overrides: Partial<Grant> = {}): Grant {
  counter += 1;
  return {
    grantId: `0x${counter.toString(16).padStart(64, "0")}`,
    patient: PATIENT,
    granteeKind: "practitioner",
    grantee: accountToBytes32(DOCTOR),
    role: ZERO,
    categories: categoryMask(["labs", "medications"]),
    purposes: purposeMask(["TREAT"]),
    actions: actionMask(["read"]),
    notBefore: T0,
    notAfter: T0 + 30 * DAY,
    nonce: BigInt(counter),
    ...overrides,
  };
}

function request(overrides: Partial<DecisionRequest> = {}): DecisionRequest {
  return {
    principal: { account: DOCTOR, kind: "practitioner" },
    patient: PATIENT,
    category: "labs",
    purpose: "TREAT",
    action: "read",
    time: T0 + DAY,
    ...overrides,
  };
}

function indexOf(...grants: Grant[]): GrantIndex {
  const index = new GrantIndex();
  for (const g of grants) index.add(g);
  return index;
}

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

/**
 * The decision as a plain reading of DESIGN.md, over every grant of the system: the patient's grants
 * naming the account, then the organization, then the role; the first live match permits, else the
 * latest stage any of them reached. (Break-glass is left out: it is the same code on both sides.)
 */
function reference(grants: readonly Grant[], r: DecisionRequest, permitting: string[] = []): Decision {
  const lower = (s: string) => s.toLowerCase();
  if (lower(r.principal.account) === lower(r.patient)) return { permit: true, reason: "patient-self" };
  const org = r.principal.organization?.toLowerCase();
  if (r.action === "read" && org !== undefined && r.authorOrganization?.toLowerCase() === org) {
    return { permit: true, reason: "author-organization" };
  }
  const name = r.principal.role;
  const role =
    name === undefined || name === "" || Buffer.byteLength(name) > 32
      ? undefined
      : stringToHex(name, { size: 32 });
  const mine = grants.filter((g) => lower(g.patient) === lower(r.patient));
  const groups = [
    mine.filter(
      (g) =>
        g.granteeKind === "practitioner" && `0x${lower(g.grantee).slice(-40)}` === lower(r.principal.account),
    ),
    mine.filter((g) => g.granteeKind === "organization" && lower(g.grantee) === org),
    mine.filter((g) => g.granteeKind === "role" && lower(g.grantee) === org && lower(g.role) === role),
  ];
  const stages = [
    "no-grant",
    "category-not-granted",
    "sensitive-not-granted",
    "purpose-not-granted",
    "action-not-granted",
    "revoked",
    "grant-not-yet-valid",
    "grant-expired",
  ] as const;
  let best = 0;
  let permit: Grant | undefined;
  groups.forEach((group, kind) => {
    for (const g of group) {
      const stage =
        (g.categories & categoryBit(r.category)) === 0
          ? isSensitive(r.category)
            ? 2
            : 1
          : isSensitive(r.category) && (g.categories & ~KNOWN_CATEGORY_MASK) !== 0
            ? 2
            : (g.purposes & purposeBit(r.purpose)) === 0
              ? 3
              : (g.actions & actionBit(r.action)) === 0
                ? 4
                : g.revokedAt !== undefined
                  ? 5
                  : r.time < g.notBefore
                    ? 6
                    : r.time >= g.notAfter
                      ? 7
                      : -1;
      if (stage >= 0) best = Math.max(best, stage);
      else if (!permitting.includes(g.granteeKind)) {
        permitting.push(g.granteeKind);
        permit ??= g;
      }
    }
    return kind;
  });
  if (permit) return { permit: true, reason: "grant", grantId: lower(permit.grantId) as Hex };
  return { permit: false, reason: stages[best]! };
}

describe("decide against a reference reading", () => {
  const upper = (h: string) => `0x${h.slice(2).toUpperCase()}`;
  const patients = [PATIENT, "0x2222222222222222222222222222222222222222" as Address];
  // DOCTOR's twins share all but one of its 5 words (its last 12 hex digits); ORG and its twin, 31 bytes.
  const accounts = [
    DOCTOR,
    "0xE0c7000000000000000000000000000000000001" as Address,
    "0xD0c7000000000000000000000000100000000001" as Address,
    "0x3333333333333333333333333333333333333333" as Address,
    PATIENT,
  ];
  const orgs = [ORG, OTHER_ORG, `0x0c${"0a".repeat(31)}` as Hex];
  const roles = ["physician", "nurse"];
  const arbCase = fc.boolean();
  const arbSpec = fc.record({
    patient: fc.nat(patients.length - 1),
    patientUpper: arbCase,
    kind: fc.constantFrom<GranteeKind>("practitioner", "organization", "role"),
    account: fc.nat(accounts.length - 1),
    upperBytes: fc.constantFrom("0".repeat(24), "f".repeat(24)),
    org: fc.constantFrom(0, 0, 0, 1, 2),
    role: fc.constantFrom(0, 0, 1),
    granteeUpper: arbCase,
    categories: fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constant(ALL_NON_SENSITIVE_MASK),
      fc.constant(SENSITIVE_MASK),
      fc.constant(categoryMask(["labs", "genomics"])),
    ),
    // Biased toward grants that permit, so permits meet (and tie-breaks between them get tested).
    purposes: fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.constant(0xff)),
    actions: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(3)),
    notBefore: fc.integer({ min: T0 - 10 * DAY, max: T0 + 10 * DAY }),
    length: fc.integer({ min: 1, max: 20 * DAY }),
    revokedAt: fc.oneof(
      { arbitrary: fc.constant(null), weight: 5 },
      { arbitrary: fc.integer({ min: T0 - 20 * DAY, max: T0 + 20 * DAY }), weight: 1 },
    ),
    /** Revoked after being added, or delivered a second time revoked. */
    later: fc.constantFrom("none", "none", "none", "revoke", "again"),
  });
  const arbRequest = fc.record({
    account: fc.nat(accounts.length - 1),
    accountUpper: arbCase,
    org: fc.oneof(
      { arbitrary: fc.constant(null), weight: 1 },
      { arbitrary: fc.constantFrom(0, 0, 0, 1, 2), weight: 4 },
    ),
    orgUpper: arbCase,
    role: fc.constantFrom(undefined, "physician", "physician", "nurse", "", "x".repeat(40)),
    patient: fc.nat(patients.length - 1),
    patientUpper: arbCase,
    category: fc.constantFrom(...CATEGORIES),
    purpose: fc.constantFrom(...PURPOSES),
    action: fc.constantFrom("read" as const, "write" as const),
    time: fc.oneof(fc.integer({ min: T0 - 20 * DAY, max: T0 + 30 * DAY }), fc.constant(T0 + DAY)),
    author: fc.oneof(
      { arbitrary: fc.constant(null), weight: 3 },
      { arbitrary: fc.nat(orgs.length - 1), weight: 1 },
    ),
  });
  type Spec = typeof arbSpec extends fc.Arbitrary<infer T> ? T : never;
  type RequestSpec = typeof arbRequest extends fc.Arbitrary<infer T> ? T : never;

  /** Feeds the index as the indexer would; returns the grants as the reference sees them. */
  function feed(index: GrantIndex, specs: Spec[]): Grant[] {
    const seen: Grant[] = [];
    for (const s of specs) {
      const account = accounts[s.account]!;
      const org = orgs[s.org]!;
      const grantee = s.kind === "practitioner" ? (`0x${s.upperBytes}${account.slice(2)}` as Hex) : org;
      const g = grant({
        patient: (s.patientUpper ? upper(patients[s.patient]!) : patients[s.patient]!) as Address,
        granteeKind: s.kind,
        grantee: (s.granteeUpper ? upper(grantee) : grantee) as Hex,
        role: s.kind === "role" ? roleToBytes32(roles[s.role]!) : ZERO,
        categories: s.categories >>> 0,
        purposes: s.purposes,
        actions: s.actions,
        notBefore: s.notBefore,
        notAfter: s.notBefore + s.length,
      });
      if (s.revokedAt !== null) g.revokedAt = s.revokedAt;
      index.add(g);
      const mine = { ...g };
      if (s.later === "revoke") index.revoke(g.grantId, T0);
      if (s.later === "again") index.add({ ...g, revokedAt: T0 });
      if (s.later !== "none") mine.revokedAt = Math.min(T0, g.revokedAt ?? T0);
      seen.push(mine);
    }
    return seen;
  }

  function toRequest(r: RequestSpec): DecisionRequest {
    const account = accounts[r.account]!;
    const org = r.org === null ? undefined : orgs[r.org]!;
    const patient = patients[r.patient]!;
    return request({
      principal: {
        account: (r.accountUpper ? upper(account) : account) as Address,
        organization: org === undefined ? undefined : ((r.orgUpper ? upper(org) : org) as Hex),
        role: r.role,
        kind: "practitioner",
      },
      patient: (r.patientUpper ? upper(patient) : patient) as Address,
      category: r.category,
      purpose: r.purpose,
      action: r.action,
      time: r.time,
      authorOrganization: r.author === null ? undefined : orgs[r.author]!,
    });
  }

  it("decides exactly as the reference, permit reason and grant alike", () => {
    const reasons = new Set<string>();
    const ties = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(arbSpec, { maxLength: 30, size: "max" }),
        fc.array(arbRequest, { minLength: 1, maxLength: 8 }),
        (specs, requests) => {
          const index = new GrantIndex();
          const grants = feed(index, specs);
          for (const r of requests.map(toRequest)) {
            const d = decide(index, r);
            const permitting: string[] = [];
            expect(d).toEqual(reference(grants, r, permitting));
            reasons.add(d.reason);
            if (permitting.length > 1) ties.add(permitting.join(" before "));
          }
        },
      ),
      // A fixed seed: the coverage asserted below is then a property of these 1,500 cases, not
      // of luck (unseeded, "organization before role" was missing in about one run in five).
      // The larger property below stays unseeded.
      { numRuns: 1500, seed: 20261125 },
    );
    // The generators reach every outcome of the grant stages, the shortcuts and the tie-breaks.
    expect([...reasons].sort()).toEqual(
      [
        "action-not-granted",
        "author-organization",
        "category-not-granted",
        "grant",
        "grant-expired",
        "grant-not-yet-valid",
        "no-grant",
        "patient-self",
        "purpose-not-granted",
        "revoked",
        "sensitive-not-granted",
      ].sort(),
    );
    expect(ties).toContain("practitioner before organization");
    expect(ties).toContain("organization before role");
  });

  it("agrees with the reference on large grant sets, across block moves and compactions", () => {
    fc.assert(
      fc.property(
        fc.array(arbSpec, { minLength: 100, maxLength: 400, size: "max" }),
        fc.array(arbRequest, { minLength: 20, maxLength: 40, size: "max" }),
        (specs, requests) => {
          const index = new GrantIndex();
          const grants = feed(index, specs);
          for (const r of requests.map(toRequest)) expect(decide(index, r)).toEqual(reference(grants, r));
        },
      ),
      { numRuns: 60 },
    );
  });
});
