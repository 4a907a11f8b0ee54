import { describe, expect, it } from "vitest";
import type { Address, Hex } from "viem";
import { GrantIndex, granteeKey } from "./grantIndex.js";
import type { Grant } from "./model.js";

const ZERO = `0x${"0".repeat(64)}` as Hex;
const ORG = `0x${"AB".repeat(32)}` as Hex;
const PHYSICIAN = `0x${"70687973696369616e".padEnd(64, "0")}` as Hex;

function grant(
  n: number,
  patient: string,
  kind: Grant["granteeKind"],
  grantee: Hex,
  role: Hex = ZERO,
): Grant {
  return {
    grantId: `0x${n.toString(16).padStart(64, "0")}`,
    patient: patient as Address,
    granteeKind: kind,
    grantee,
    role,
    categories: 1,
    purposes: 1,
    actions: 1,
    notBefore: 0,
    notAfter: 10,
    nonce: BigInt(n),
  };
}

const P1 = "0xAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa";
const P2 = "0x2222222222222222222222222222222222222222";
const DOC = "0xDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDd" as Address;
const DOC32 = `0x${"0".repeat(24)}${DOC.slice(2)}` as Hex;

describe("GrantIndex", () => {
  it("indexes by patient, by grantee and by id, case-insensitively", () => {
    const index = new GrantIndex();
    expect(index.add(grant(1, P1, "practitioner", DOC32))).toBe(true);
    expect(index.add(grant(2, P2, "practitioner", DOC32))).toBe(true);
    expect(index.add(grant(3, P1, "organization", ORG))).toBe(true);
    expect(index.add(grant(4, P1, "role", ORG, PHYSICIAN))).toBe(true);
    expect(index.size).toBe(4);

    expect(index.forPatient(P1.toLowerCase() as Address).map((g) => g.nonce)).toEqual([1n, 3n, 4n]);
    expect(index.forPatient(P2.toUpperCase().replace("0X", "0x") as Address)).toHaveLength(1);
    expect(index.forPatient("0x9999999999999999999999999999999999999999")).toEqual([]);

    expect(index.forGrantee("practitioner", DOC32).map((g) => g.nonce)).toEqual([1n, 2n]);
    expect(index.forGrantee("practitioner", DOC).map((g) => g.nonce)).toEqual([1n, 2n]);
    expect(index.forGrantee("organization", ORG.toLowerCase() as Hex).map((g) => g.nonce)).toEqual([3n]);
    expect(index.forGrantee("role", ORG, PHYSICIAN).map((g) => g.nonce)).toEqual([4n]);
    expect(index.forGrantee("role", ORG, ZERO)).toEqual([]);

    const stored = index.get(
      `0x${(3).toString(16).padStart(64, "0")}`.toUpperCase().replace("0X", "0x") as Hex,
    );
    expect(stored?.grantee).toBe(ORG.toLowerCase());
    expect(stored?.patient).toBe(P1.toLowerCase());
  });

  it("answers the decision's per-pair lookups with lowercase request strings", () => {
    expect(granteeKey("practitioner", DOC32)).toBe(granteeKey("practitioner", DOC));
    expect(granteeKey("organization", ORG)).not.toBe(granteeKey("role", ORG, PHYSICIAN));
    const index = new GrantIndex();
    index.add(grant(1, P1, "practitioner", DOC32));
    index.add(grant(2, P1, "organization", ORG));
    index.add(grant(3, P1, "role", ORG, PHYSICIAN));
    const p1 = P1.toLowerCase();
    const org = ORG.toLowerCase();
    expect(index.forPractitioner(p1, DOC.toLowerCase()).map((g) => g.nonce)).toEqual([1n]);
    expect(index.forPractitioner(P2, DOC.toLowerCase())).toHaveLength(0);
    expect(index.forOrganization(p1, org).map((g) => g.nonce)).toEqual([2n]);
    expect(index.forRole(p1, org, PHYSICIAN).map((g) => g.nonce)).toEqual([3n]);
    expect(index.forRole(p1, org, ZERO)).toHaveLength(0);
    expect(index.forOrganization(p1, DOC32)).toHaveLength(0);
  });

  it("is idempotent on grant id and keeps the earliest revocation", () => {
    const index = new GrantIndex();
    const g = grant(7, P1, "practitioner", DOC32);
    index.add(g);
    expect(index.add(g)).toBe(false);
    expect(index.size).toBe(1);
    expect(index.forPatient(P1 as Address)).toHaveLength(1);

    expect(index.revoke(g.grantId, 50)).toBe(true);
    expect(index.revoke(g.grantId, 80)).toBe(true);
    expect(index.get(g.grantId)?.revokedAt).toBe(50);
    expect(index.add({ ...g, revokedAt: 20 })).toBe(false);
    expect(index.get(g.grantId)?.revokedAt).toBe(20);
    expect(index.revoke(`0x${"f".repeat(64)}`, 1)).toBe(false);
  });

  it("does not let callers change the index through returned lists", () => {
    const index = new GrantIndex();
    index.add(grant(1, P1, "organization", ORG));
    const list = index.forGrantee("organization", ORG) as Grant[];
    list.pop();
    expect(index.forGrantee("organization", ORG)).toHaveLength(1);
    const own = index.forPatient(P1 as Address);
    own.pop();
    expect(index.forPatient(P1 as Address)).toHaveLength(1);
  });
});
