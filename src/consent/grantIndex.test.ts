import { describe, expect, it } from "vitest";
import type { Address, Hex } from "viem";
import { GrantIndex, Stage, granteeKey, type GrantQuery } from "./grantIndex.js";
import type { Grant } from "../model/consentTypes.js";

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
    salt: `0x${n.toString(16).padStart(64, "0")}`,
  };
}

const P1 = "0xAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa";
const P2 = "0x2222222222222222222222222222222222222222";
const DOC = "0xDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDdDd" as Address;
const DOC32 = `0x${"0".repeat(24)}${DOC.slice(2)}` as Hex;
const pad32 = (account: string) => `0x${"0".repeat(24)}${account.slice(2)}` as Hex;
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
const patientN = (i: number) => `0x${(0x500000 + i).toString(16).padStart(40, "0")}`;

/** A query for `categories: 1, purposes: 1, actions: 1` at time 5: the grants above permit it. */
function query(patient: string, account: string, organization?: string, role?: string): GrantQuery {
  return {
    patient,
    account,
    organization,
    role,
    categoryBit: 1,
    sensitive: false,
    purposeBit: 1,
    actionBit: 1,
    time: 5,
  };
}

describe("GrantIndex", () => {
  it("indexes by patient, by grantee and by id, case-insensitively", () => {
    const index = new GrantIndex();
    expect(index.add(grant(1, P1, "practitioner", DOC32))).toBe(true);
    expect(index.add(grant(2, P2, "practitioner", DOC32))).toBe(true);
    expect(index.add(grant(3, P1, "organization", ORG))).toBe(true);
    expect(index.add(grant(4, P1, "role", ORG, PHYSICIAN))).toBe(true);
    expect(index.size).toBe(4);

    expect(index.forPatient(P1.toLowerCase() as Address).map((g) => BigInt(g.salt))).toEqual([1n, 3n, 4n]);
    expect(index.forPatient(P2.toUpperCase().replace("0X", "0x") as Address)).toHaveLength(1);
    expect(index.forPatient("0x9999999999999999999999999999999999999999")).toEqual([]);

    expect(index.forGrantee("practitioner", DOC32).map((g) => BigInt(g.salt))).toEqual([1n, 2n]);
    expect(index.forGrantee("practitioner", DOC).map((g) => BigInt(g.salt))).toEqual([1n, 2n]);
    expect(index.forGrantee("organization", ORG.toLowerCase() as Hex).map((g) => BigInt(g.salt))).toEqual([
      3n,
    ]);
    expect(index.forGrantee("role", ORG, PHYSICIAN).map((g) => BigInt(g.salt))).toEqual([4n]);
    expect(index.forGrantee("role", ORG, ZERO)).toEqual([]);

    const stored = index.get(
      `0x${(3).toString(16).padStart(64, "0")}`.toUpperCase().replace("0X", "0x") as Hex,
    );
    expect(stored?.grantee).toBe(ORG.toLowerCase());
    expect(stored?.patient).toBe(P1.toLowerCase());
  });

  it("matches a patient's grants to the account, then the organization, then the role", () => {
    expect(granteeKey("practitioner", DOC32)).toBe(granteeKey("practitioner", DOC));
    expect(granteeKey("organization", ORG)).not.toBe(granteeKey("role", ORG, PHYSICIAN));
    const index = new GrantIndex();
    index.add(grant(3, P1, "role", ORG, PHYSICIAN));
    index.add(grant(2, P1, "organization", ORG));
    index.add(grant(1, P1, "practitioner", DOC32));
    const org = ORG.toLowerCase();
    expect(index.match(query(P1, DOC, org, PHYSICIAN))).toBe(id(1));
    expect(index.match(query(P1.toLowerCase(), P2, org, PHYSICIAN))).toBe(id(2));
    expect(index.match(query(P1, P2, `0x${"cd".repeat(32)}`, PHYSICIAN))).toBe(Stage.noGrant);
    expect(index.match(query(P2, DOC, org, PHYSICIAN))).toBe(Stage.noGrant);
    expect(index.match(query("0x1234", DOC, org, PHYSICIAN))).toBe(Stage.noGrant);
    expect(index.match({ ...query(P1, DOC, org, PHYSICIAN), time: 10 })).toBe(Stage.expired);

    const roleOnly = new GrantIndex();
    roleOnly.add(grant(3, P1, "role", ORG, PHYSICIAN));
    expect(roleOnly.match(query(P1, P2, org, PHYSICIAN))).toBe(id(3));
    expect(roleOnly.match(query(P1, P2, org, ZERO))).toBe(Stage.noGrant);
    expect(roleOnly.match(query(P1, P2, org, undefined))).toBe(Stage.noGrant);
    expect(roleOnly.match(query(P1, P2, undefined, PHYSICIAN))).toBe(Stage.noGrant);
  });

  it("is idempotent on grant id and keeps the earliest revocation", () => {
    const index = new GrantIndex();
    const g = grant(7, P1, "practitioner", DOC32);
    index.add(g);
    expect(index.add(g)).toBe(false);
    expect(index.add({ ...g, grantId: g.grantId.toUpperCase().replace("0X", "0x") as Hex })).toBe(false);
    expect(index.size).toBe(1);
    expect(index.forPatient(P1 as Address)).toHaveLength(1);
    expect(index.arenaLines.end).toBe(2); // the block's header line and its one grant
    expect(index.match(query(P1, DOC))).toBe(g.grantId);

    expect(index.revoke(g.grantId, 50)).toBe(true);
    expect(index.match(query(P1, DOC))).toBe(Stage.revoked);
    expect(index.revoke(g.grantId, 80)).toBe(true);
    expect(index.get(g.grantId)?.revokedAt).toBe(50);
    expect(index.add({ ...g, revokedAt: 20 })).toBe(false);
    expect(index.get(g.grantId)?.revokedAt).toBe(20);
    expect(index.revoke(`0x${"f".repeat(64)}`, 1)).toBe(false);

    const late = new GrantIndex();
    late.add(g);
    late.add({ ...g, revokedAt: 30 });
    expect(late.match(query(P1, DOC))).toBe(Stage.revoked);
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

  it("moves a full block to the end of the arena, keeping its order and its grants", () => {
    const index = new GrantIndex();
    const docs = Array.from({ length: 12 }, (_, i) => `0x${(0xd0c + i).toString(16).padStart(40, "0")}`);
    for (let i = 0; i < 12; i++) {
      index.add(grant(100 + i, P1, "practitioner", pad32(docs[i]!)));
      index.add(grant(200 + i, P2, "practitioner", pad32(docs[i]!)));
      // Blocks (a header line, then room for 1, 2, 3, 4, 6 grants) grow by moving to the end,
      // leaving their old lines behind as holes: 2 + 3 + 4 + 5 + 7 lines each, 14 of them holes.
      if (i === 4) expect(index.arenaLines).toEqual({ capacity: 64, end: 42, holes: 28 });
    }
    expect(index.forPatient(P1 as Address).map((g) => Number(BigInt(g.salt)))).toEqual(
      docs.map((_, i) => 100 + i),
    );
    expect(index.forPatient(P2 as Address).map((g) => Number(BigInt(g.salt)))).toEqual(
      docs.map((_, i) => 200 + i),
    );
    docs.forEach((doc, i) => {
      expect(index.match(query(P1, doc))).toBe(id(100 + i));
      expect(index.match(query(P2, doc))).toBe(id(200 + i));
    });
  });

  it("compacts the arena when it is full, and revokes grants wherever their block went", () => {
    const index = new GrantIndex();
    const first = grant(1, patientN(0), "practitioner", DOC32);
    index.add(first);
    index.revoke(first.grantId, 3);
    const second = grant(2, patientN(0), "organization", ORG);
    index.add(second);
    let compactions = 0;
    let before = index.arenaLines;
    for (let n = 0; n < 3000; n++) {
      index.add(grant(10 + n, patientN(n % 150), "practitioner", pad32(patientN(1000 + n))));
      const after = index.arenaLines;
      if (after.capacity !== before.capacity) {
        compactions++;
        // A fresh arena holds only live blocks: no holes, and room for as much again.
        expect(after.holes).toBe(0);
        expect(after.capacity).toBeGreaterThanOrEqual(2 * after.end);
      }
      before = after;
    }
    expect(compactions).toBeGreaterThan(3);
    expect(index.arenaLines.end).toBeLessThan(index.arenaLines.capacity);
    expect(index.match(query(patientN(0), DOC))).toBe(Stage.revoked);
    const org = ORG.toLowerCase();
    expect(index.match(query(patientN(0), DOC, org))).toBe(second.grantId);
    index.revoke(second.grantId, 4);
    expect(index.match(query(patientN(0), DOC, org))).toBe(Stage.revoked);
    expect(index.forPatient(patientN(0) as Address)).toHaveLength(2 + 20);
    for (let n = 0; n < 3000; n += 97) {
      expect(index.match(query(patientN(n % 150), patientN(1000 + n)))).toBe(id(10 + n));
      expect(index.match(query(patientN((n + 1) % 150), patientN(1000 + n)))).toBe(Stage.noGrant);
    }
  });

  it("never lets a look-alike grantee or patient stand for another", () => {
    // Same last 12 (even 39) hex digits: only the account the grant names is permitted.
    const real = "0x1111111111111111111111111111aaaaaaaaaaaa";
    const twins = [
      "0x2222222222222222222222222222aaaaaaaaaaaa",
      "0x0111111111111111111111111111aaaaaaaaaaaa",
      "0x1111111111111111111111111111aaaaaaaaaaab",
      "0x111111111111111111111111a111aaaaaaaaaaaa",
    ];
    const index = new GrantIndex();
    index.add(grant(1, P1, "practitioner", pad32(real)));
    expect(index.match(query(P1, real))).toBe(id(1));
    expect(index.match(query(P1, real.toUpperCase().replace("0X", "0x")))).toBe(id(1));
    for (const twin of twins) expect(index.match(query(P1, twin))).toBe(Stage.noGrant);
    // Organization ids differing in their first byte, and roles of one organization, stay apart.
    const orgTwin = `0x${"cd"}${"ab".repeat(31)}`;
    const roles = new GrantIndex();
    roles.add(grant(3, P1, "role", ORG, PHYSICIAN));
    roles.add(grant(2, P1, "organization", orgTwin as Hex));
    expect(roles.match(query(P1, real, ORG.toLowerCase(), PHYSICIAN))).toBe(id(3));
    expect(roles.match(query(P1, real, ORG.toLowerCase()))).toBe(Stage.noGrant);
    expect(roles.match(query(P1, real, orgTwin, PHYSICIAN))).toBe(id(2));
    expect(roles.match(query(P1, real, `0x${"ab".repeat(32)}`, `0x${"70".repeat(32)}`))).toBe(Stage.noGrant);
    // A grantee with non-zero upper bytes still names the account in its last 20 bytes.
    const padded = new GrantIndex();
    padded.add(grant(4, P1, "practitioner", `0x${"ff".repeat(12)}${real.slice(2)}`));
    expect(padded.match(query(P1, real))).toBe(id(4));
    // Patients differing in any one word are different patients.
    expect(index.match(query("0x1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", real))).toBe(Stage.noGrant);
    expect(index.match(query("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", real))).toBe(Stage.noGrant);
    expect(index.match(query("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaag", real))).toBe(Stage.noGrant);
  });

  it("lists but never decides on a grant whose patient or practitioner is not a 20-byte address", () => {
    const index = new GrantIndex();
    index.add(grant(1, "0xNOTANADDRESS", "practitioner", DOC32));
    index.add(grant(2, P1, "practitioner", `0x${"zz".repeat(32)}`));
    expect(index.forPatient("0xnotanaddress" as Address).map((g) => BigInt(g.salt))).toEqual([1n]);
    expect(index.forPatient(P1 as Address).map((g) => BigInt(g.salt))).toEqual([2n]);
    expect(index.match(query("0xnotanaddress", DOC))).toBe(Stage.noGrant);
    expect(index.match(query(P1, `0x${"zz".repeat(20)}`))).toBe(Stage.noGrant);
    expect(index.size).toBe(2);
  });
});
