import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringToHex, type Address, type Hex } from "viem";
import { decide, type Decision, type DecisionRequest } from "./decide.js";
import {
  DAY,
  DOCTOR,
  grant,
  ORG,
  OTHER_ORG,
  PATIENT,
  request,
  T0,
  ZERO,
} from "../../test/support/decideFixtures.js";
import { GrantIndex } from "./grantIndex.js";
import {
  ALL_NON_SENSITIVE_MASK,
  CATEGORIES,
  KNOWN_CATEGORY_MASK,
  PURPOSES,
  SENSITIVE_MASK,
  actionBit,
  categoryBit,
  categoryMask,
  isSensitive,
  purposeBit,
  type GranteeKind,
} from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";
import { roleToBytes32 } from "./signConsent.js";

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
