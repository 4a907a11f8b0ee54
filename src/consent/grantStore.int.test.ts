import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Address, Hex } from "viem";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { decide } from "./decide.js";
import { confirmTerms, findGrant, loadGrantIndex, markRevoked, saveTerms } from "./grantStore.js";
import { categoryMask, purposeMask } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";
import { accountToBytes32, roleToBytes32 } from "./signConsent.js";

const PATIENT = "0x1111111111111111111111111111111111111111" as Address;
const DOCTOR = "0xD0c7000000000000000000000000000000000001" as Address;
const ORG = `0x${"0A".repeat(32)}` as Hex;
const T0 = 1_700_000_000;
const SIGNATURE = `0x${"5a".repeat(65)}` as Hex;
/** Stores terms whose commitment the ledger confirmed at `confirmedAt`. */
const saveGrant = (db: Parameters<typeof saveTerms>[0], grant: Grant, confirmedAt: number | null = T0) =>
  saveTerms(db, { grant, signature: SIGNATURE }, { confirmedAt });

function grant(n: number, overrides: Partial<Grant> = {}): Grant {
  return {
    grantId: `0x${n.toString(16).padStart(64, "0")}`,
    patient: PATIENT,
    granteeKind: "practitioner",
    grantee: accountToBytes32(DOCTOR),
    role: `0x${"0".repeat(64)}`,
    categories: 0xffffffff,
    purposes: purposeMask(["TREAT", "ETREAT"]),
    actions: 3,
    notBefore: T0,
    notAfter: 2 ** 40,
    salt: `0x${(2n ** 255n + BigInt(n)).toString(16)}`,
    ...overrides,
  };
}

describe.each(engines)("grantStore on %s", (engine) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await freshStore(engine);
  });
  afterEach(async () => {
    await t.dispose();
  });

  it("saves grants idempotently and reads them back exactly", async () => {
    const g = grant(1);
    expect(await saveGrant(t.store.db, g)).toBe(true);
    expect(await saveGrant(t.store.db, g)).toBe(false);
    const count = await t.store.db
      .selectFrom("consent_grants")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
    const stored = await findGrant(t.store.db, g.grantId);
    expect(stored).toEqual({ ...g, patient: PATIENT.toLowerCase(), grantee: g.grantee.toLowerCase() });
    const row = await t.store.db
      .selectFrom("consent_grants")
      .select(["confirmed_at", "signature"])
      .executeTakeFirstOrThrow();
    expect(Number(row.confirmed_at)).toBe(T0);
    expect(row.signature).toBe(SIGNATURE);
  });

  it("keeps terms out of the index until the ledger confirms their commitment", async () => {
    const g = grant(9);
    expect(await saveGrant(t.store.db, g, null)).toBe(false);
    expect(await findGrant(t.store.db, g.grantId)).toBeUndefined();
    expect((await loadGrantIndex(t.store.db)).size).toBe(0);
    expect(await confirmTerms(t.store.db, g.grantId, T0 + 3)).toEqual({
      ...g,
      patient: PATIENT.toLowerCase(),
      grantee: g.grantee.toLowerCase(),
    });
    expect(await confirmTerms(t.store.db, g.grantId, T0 + 4)).toBeUndefined();
    expect((await loadGrantIndex(t.store.db)).get(g.grantId)?.grantId).toBe(g.grantId);
  });

  it("marks revocations once and keeps them across a repeated grant event", async () => {
    const g = grant(2);
    await saveGrant(t.store.db, g);
    expect(await markRevoked(t.store.db, g.grantId, T0 + 5)).toBe(true);
    expect(await markRevoked(t.store.db, g.grantId, T0 + 9)).toBe(false);
    expect(await markRevoked(t.store.db, `0x${"f".repeat(64)}`, T0)).toBe(false);
    await saveGrant(t.store.db, g);
    expect((await findGrant(t.store.db, g.grantId))?.revokedAt).toBe(T0 + 5);
  });

  it("rebuilds the decision index at startup", async () => {
    const labs = grant(3, { categories: categoryMask(["labs"]) });
    const org = grant(4, {
      granteeKind: "organization",
      grantee: ORG,
      categories: categoryMask(["genomics"]),
    });
    const role = grant(5, {
      granteeKind: "role",
      grantee: ORG,
      role: roleToBytes32("nurse"),
      categories: categoryMask(["vitals"]),
    });
    for (const g of [labs, org, role]) await saveGrant(t.store.db, g);
    await markRevoked(t.store.db, labs.grantId, T0 + 1);

    const index = await loadGrantIndex(t.store.db);
    expect(index.size).toBe(3);
    const ask = (
      category: "labs" | "genomics" | "vitals",
      principal: { account: Address; organization?: Hex; role?: string },
    ) =>
      decide(index, {
        principal: { ...principal, kind: "practitioner" },
        patient: PATIENT,
        category,
        purpose: "TREAT",
        action: "read",
        time: T0 + 10,
      });
    expect(ask("labs", { account: DOCTOR }).reason).toBe("revoked");
    expect(ask("genomics", { account: DOCTOR, organization: ORG }).grantId).toBe(org.grantId);
    expect(ask("vitals", { account: DOCTOR, organization: ORG, role: "nurse" }).grantId).toBe(role.grantId);
  });

  it("pages through more grants than one query returns", async () => {
    const many = Array.from({ length: 250 }, (_, i) =>
      grant(100 + i, { patient: `0x${(i % 97).toString(16).padStart(40, "0")}` }),
    );
    await t.store.db.transaction().execute(async (trx) => {
      for (const g of many) await saveGrant(trx, g);
    });
    const index = await loadGrantIndex(t.store.db, 100);
    expect(index.size).toBe(250);
    expect(index.forPatient(`0x${"0".repeat(40)}`)).toHaveLength(Math.ceil(250 / 97));
    expect((await loadGrantIndex(t.store.db, 50)).size).toBe(250);
  });
});
