import { createWalletClient, hashTypedData, http, keccak256, toHex, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentRegistryAbi } from "../../src/chain/artifacts/ConsentRegistry.js";
import {
  buildGrantMessage,
  buildRevokeMessage,
  grantIdOf,
  signGrant,
  signRevoke,
  signedGrantToJson,
  type GrantMessage,
  type SignedGrantJson,
} from "../../src/consent/signConsent.js";
import { GRANTS_PATH } from "../../src/federation/grantDistribution.js";
import {
  newNonce,
  signAccessRequest,
  signNodeRequest,
  type AccessRequest,
} from "../../src/federation/nodeAuth.js";
import { CONSENT_TYPES } from "../../src/model/consentTypes.js";
import { categoryMask, purposeBit } from "../../src/model/vocabulary.js";
import { registerParticipants } from "../support/participants.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "./attackNode.js";

const ZERO_FEES = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const;

/**
 * The ledger holds only a commitment to each grant, so grant terms reach a custodian from other
 * nodes. Here a rogue node of the consortium (registered, with a practitioner of its own) tries to
 * make the hospital, which holds patient 1's HIV Condition, accept terms the patient never signed:
 * a genuine grant widened to sexual health, terms it signed itself, terms for another patient,
 * pushed to `/federation/grants` or presented with a `/federation/fetch`. Every one is refused and
 * opens nothing; the genuine terms, from anyone, are accepted and enforced exactly as signed; a
 * revoked grant pushed later does not count.
 */
describe.each(engines)("grant terms passed between nodes (%s)", (engine) => {
  let n: AttackNode;
  const rogueNode = privateKeyToAccount(generatePrivateKey());
  const rogueDoc = privateKeyToAccount(generatePrivateKey());
  const relay = privateKeyToAccount(generatePrivateKey());
  const rogueOrg = keccak256(toHex(`rogue-${engine}`));
  let domain: Parameters<typeof signGrant>[1];
  let genuine: GrantMessage;
  let genuineSigned: SignedGrantJson;

  /** Records a commitment as any relayer may: straight to the contract, so the hospital never sees the terms. */
  const commit = async (patient: LocalAccount, message: GrantMessage) => {
    const wallet = createWalletClient({
      account: relay,
      chain: foundry,
      transport: http(n.node.context.rpcUrl),
    });
    const hash = await wallet.writeContract({
      address: n.node.context.deployment.consentRegistry,
      abi: consentRegistryAbi,
      functionName: "grant",
      args: [patient.address, grantIdOf(message), await signGrant(patient, domain, message)],
      ...ZERO_FEES,
    });
    const receipt = await n.node.context.clients.publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    await n.node.context.indexer.waitForBlock(receipt.blockNumber, 10_000);
  };
  const grantTo = (
    patient: LocalAccount,
    categories: Parameters<typeof buildGrantMessage>[0]["categories"],
  ) =>
    buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: n.gp.address },
      categories,
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
  const post = async (path: string, body: unknown) => {
    const text = JSON.stringify(body);
    const headers = await signNodeRequest(rogueNode, { method: "POST", path, body: text });
    return fetch(`${n.url}${path}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: text,
    });
  };
  const push = (terms: unknown) => post(GRANTS_PATH, terms);
  const present = async (grants: unknown[]) => {
    const request: AccessRequest = {
      patient: n.p1.account.address,
      requester: rogueDoc.address,
      requesterOrganization: rogueOrg,
      categories: categoryMask(["conditions", "sexual-health"]),
      purpose: purposeBit("TREAT"),
      expiry: Math.floor(Date.now() / 1000) + 300,
      nonce: newNonce(),
    };
    const signature = await signAccessRequest(rogueDoc, request, n.node.context.clients.chainId);
    return post("/federation/fetch", { accessRequest: request, signature, grants });
  };
  const gpReads = async (id: string) =>
    (await (await n.as(n.gp)).get(`/fhir/Condition/${id}`, "TREAT")).status;
  const held = (grantId: Hex) => n.node.services.gate.index.get(grantId);

  beforeAll(async () => {
    n = await startAttackNode(engine, `grant-terms-${engine}`);
    await registerParticipants(
      n.node,
      [{ id: rogueOrg, name: "Rogue Clinic", node: rogueNode.address, endpoint: "http://127.0.0.1:9" }],
      [{ organization: rogueOrg, account: rogueDoc.address, role: "physician" }],
    );
    domain = n.node.services.consents.domain;
    // patient 1 grants the clinic's GP their ordinary conditions, relayed elsewhere
    genuine = grantTo(n.p1.account, ["conditions"]);
    genuineSigned = signedGrantToJson(genuine, await signGrant(n.p1.account, domain, genuine));
    await commit(n.p1.account, genuine);
  }, 120_000);

  afterAll(async () => {
    await n?.dispose();
  });

  it("holds nothing of a grant relayed elsewhere until its terms arrive", async () => {
    expect(held(grantIdOf(genuine))).toBeUndefined();
    expect(await gpReads(n.p1.plain)).toBe(404);
  });

  it("refuses the genuine grant widened to sexual health, pushed or presented", async () => {
    const widened = {
      ...genuineSigned,
      grant: { ...genuineSigned.grant, categories: categoryMask(["conditions", "sexual-health"]) },
    };
    const pushed = await push(widened);
    expect(pushed.status).toBe(403);
    expect(await pushed.text()).toContain("the terms match no grant the patient recorded on the ledger");
    const presented = await present([widened]);
    expect(presented.status).toBe(403);
    expect(await presented.text()).not.toContain(n.p1.hiv);
    expect(held(grantIdOf(genuine))).toBeUndefined();
    expect(await gpReads(n.p1.hiv)).toBe(404);
  });

  it("refuses terms the rogue node signed itself, even with a commitment under its own account", async () => {
    const forged = grantTo(n.p1.account, ["conditions", "sexual-health"]);
    // the rogue signs the patient's terms itself and records their id under its own account
    const squat = await rogueNode.sign!({
      hash: hashTypedData({ domain, types: CONSENT_TYPES, primaryType: "Grant", message: forged }),
    });
    const wallet = createWalletClient({
      account: relay,
      chain: foundry,
      transport: http(n.node.context.rpcUrl),
    });
    await n.node.context.clients.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: n.node.context.deployment.consentRegistry,
        abi: consentRegistryAbi,
        functionName: "grant",
        args: [rogueNode.address, grantIdOf(forged), squat],
        ...ZERO_FEES,
      }),
    });
    const res = await push(signedGrantToJson(forged, squat));
    expect(res.status).toBe(403);
    expect(held(grantIdOf(forged))).toBeUndefined();
    expect(await gpReads(n.p1.hiv)).toBe(404);
  });

  it("refuses a fetch that presents another patient's grant as this patient's", async () => {
    const other = grantTo(n.p2.account, ["conditions"]);
    await commit(n.p2.account, other);
    const res = await present([signedGrantToJson(other, await signGrant(n.p2.account, domain, other))]);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("a presented grant names another patient");
  });

  it("accepts the genuine terms from any node, and enforces them exactly as signed", async () => {
    const res = await push(genuineSigned);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ grantId: grantIdOf(genuine), status: "accepted" });
    expect((await push(genuineSigned)).status).toBe(200);
    expect(held(grantIdOf(genuine))?.categories).toBe(categoryMask(["conditions"]));
    expect(await gpReads(n.p1.plain)).toBe(200);
    // the sensitive Condition stays out of reach: the patient granted conditions, not sexual health
    expect(await gpReads(n.p1.hiv)).toBe(404);
    const entries = await n.entriesAbout(n.p1.account.address.toLowerCase());
    expect(entries.some((e) => e.action === "consent-granted" && e.actor.account === rogueNode.address)).toBe(
      true,
    );
  });

  it("keeps a grant revoked on the ledger revoked when its terms are pushed afterwards", async () => {
    const later = grantTo(n.p1.account, ["conditions", "sexual-health"]);
    await commit(n.p1.account, later);
    const revoke = buildRevokeMessage({
      patient: n.p1.account.address,
      grantId: grantIdOf(later),
      nonce: 0n,
    });
    const wallet = createWalletClient({
      account: relay,
      chain: foundry,
      transport: http(n.node.context.rpcUrl),
    });
    await n.node.context.clients.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: n.node.context.deployment.consentRegistry,
        abi: consentRegistryAbi,
        functionName: "revoke",
        args: [revoke, await signRevoke(n.p1.account, domain, revoke)],
        ...ZERO_FEES,
      }),
    });
    const res = await push(signedGrantToJson(later, await signGrant(n.p1.account, domain, later)));
    expect(res.status).toBe(200);
    expect(held(grantIdOf(later))?.revokedAt).toBeGreaterThan(0);
    expect(await gpReads(n.p1.hiv)).toBe(404);
  });
});
