import { stringToHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { login, principalFromSession, resolveRoles } from "./resolvePrincipal.js";
import { verifySessionToken } from "./sessionToken.js";
import { SiweChallenges } from "./siwe.js";

const ORG_A = `0x${"0a".repeat(32)}` as const;
const ORG_B = `0x${"0b".repeat(32)}` as const;
const ORG_OFF = `0x${"0c".repeat(32)}` as const;
const nodeKey = generatePrivateKey();
const alice = privateKeyToAccount(generatePrivateKey());
const bob = privateKeyToAccount(generatePrivateKey());
const carol = privateKeyToAccount(generatePrivateKey());
const nodeA = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const lower = (a: string): string => a.toLowerCase();

describe.each(engines)("%s", (engine) => {
  let t: TestStore;

  beforeEach(async () => {
    t = await freshStore(engine);
    const db = t.store.db;
    const org = (id: string, nodeAddress: string, active: number) => ({
      id,
      name: "Org",
      kind: "clinic",
      endpoint: "https://org.example",
      node_address: lower(nodeAddress),
      active,
    });
    await db
      .insertInto("organizations")
      .values([
        org(ORG_A, nodeA.address, 1),
        // a node address one digit away from the stranger's, never equal to it
        org(ORG_B, stranger.address.slice(0, -1) + (stranger.address.endsWith("0") ? "1" : "0"), 1),
        org(ORG_OFF, carol.address, 0),
      ])
      .execute();
    await db
      .insertInto("patients")
      .values([
        { account: lower(alice.address), registered_block: 1 },
        { account: lower(bob.address), registered_block: 2 },
      ])
      .execute();
    await db
      .insertInto("practitioners")
      .values([
        { account: lower(bob.address), org_id: ORG_A, role: "physician", active: 1 },
        // as on chain: bytes32 of the role name
        { account: lower(bob.address), org_id: ORG_B, role: stringToHex("nurse", { size: 32 }), active: 1 },
        { account: lower(carol.address), org_id: ORG_A, role: "pharmacist", active: 0 },
        { account: lower(carol.address), org_id: ORG_OFF, role: "admin", active: 1 },
        { account: lower(carol.address), org_id: ORG_B, role: "wizard", active: 1 },
      ])
      .execute();
  });

  afterEach(async () => {
    await t.dispose();
  });

  it("resolves a registered patient", async () => {
    expect(await resolveRoles(t.store.db, alice.address)).toEqual([{ kind: "patient" }]);
  });

  it("resolves a patient who is also a practitioner at two organizations", async () => {
    expect(await resolveRoles(t.store.db, bob.address)).toEqual([
      { kind: "patient" },
      { kind: "practitioner", organization: ORG_A, role: "physician" },
      { kind: "practitioner", organization: ORG_B, role: "nurse" },
    ]);
  });

  it("ignores inactive practitioners, inactive organizations and unknown roles", async () => {
    expect(await resolveRoles(t.store.db, carol.address)).toEqual([]);
  });

  it("resolves a node operator and an unknown account", async () => {
    expect(await resolveRoles(t.store.db, nodeA.address)).toEqual([{ kind: "node", organization: ORG_A }]);
    expect(await resolveRoles(t.store.db, stranger.address)).toEqual([]);
  });

  describe("login", () => {
    const challenges = new SiweChallenges({
      domain: "node.example",
      uri: "https://node.example/auth",
      chainId: 31337,
    });
    const signIn = async (account: typeof alice) => {
      const { message } = await challenges.issue(account.address);
      return { message, signature: await account.signMessage({ message }) };
    };

    it("signs a practitioner in at the organization chosen", async () => {
      const result = await login({
        challenges,
        db: t.store.db,
        nodeKey,
        ...(await signIn(bob)),
        as: { organization: ORG_B },
      });
      expect(result.session).toEqual({ kind: "practitioner", organization: ORG_B, role: "nurse" });
      expect(result.roles).toHaveLength(3);
      const claims = verifySessionToken(nodeKey, result.token);
      expect(claims).toEqual(result.claims);
      expect(result.expiresAt.getTime()).toBe(claims.exp * 1000);
      expect(principalFromSession(claims, { requestId: "r" })).toMatchObject({
        account: bob.address,
        kind: "practitioner",
        organization: ORG_B,
        role: "nurse",
        purpose: "TREAT",
      });
    });

    it("requires a choice from an account holding several roles (and spends the nonce anyway)", async () => {
      const signed = await signIn(bob);
      await expect(login({ challenges, db: t.store.db, nodeKey, ...signed })).rejects.toThrow(
        expect.objectContaining({ kind: "invalid", message: "account holds several roles: choose one" }),
      );
      await expect(
        login({ challenges, db: t.store.db, nodeKey, ...signed, as: { kind: "patient" } }),
      ).rejects.toThrow("SIWE nonce unknown or already used");
    });

    it("signs an unregistered account in as a patient of its own data only", async () => {
      const result = await login({ challenges, db: t.store.db, nodeKey, ...(await signIn(stranger)) });
      expect(result.session).toEqual({ kind: "patient" });
      expect(result.claims).toMatchObject({ sub: stranger.address, kind: "patient" });
      expect(result.claims.organization).toBeUndefined();
      await expect(
        login({ challenges, db: t.store.db, nodeKey, ...(await signIn(stranger)), as: { kind: "node" } }),
      ).rejects.toThrow(
        expect.objectContaining({ kind: "forbidden", message: "account holds no such role" }),
      );
    });

    it("refuses a wrong signer before looking at roles", async () => {
      const { message } = await challenges.issue(bob.address);
      const signature = await alice.signMessage({ message });
      await expect(login({ challenges, db: t.store.db, nodeKey, message, signature })).rejects.toThrow(
        expect.objectContaining({
          kind: "unauthenticated",
          message: "SIWE signature does not match the address",
        }),
      );
    });
  });
});
