import { generateKeyPairSync } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { BaseError as ViemBaseError, ContractFunctionRevertedError, keccak256, toHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialRegistryAbi } from "../../src/chain/artifacts/CredentialRegistry.js";
import { createChainClients } from "../../src/chain/clients.js";
import { IssuerAdmin } from "../../src/passport/issuerAdmin.js";
import { IssuerKeys, signEs256 } from "../../src/passport/issuerKeys.js";
import { publicJwk } from "../../src/passport/jwk.js";
import { bytes32Of } from "../../src/passport/ledgerReader.js";
import type { PassportReport } from "../../src/passport/passportReport.js";
import type { IssuedCard } from "../../src/passport/passportService.js";
import { registerParticipants } from "../support/participants.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "./attackNode.js";

/**
 * Attacks on the digital health passport, as an attacker would try them: a patient issuing a card
 * from another patient's record or revoking theirs, a practitioner of another organization issuing,
 * an anonymous caller, an organization that is not an issuer registering keys or taking over
 * another issuer's, forging a card in this issuer's name, replaying a revoked card.
 */
describe.each(engines)("passport attacks (%s)", (engine) => {
  let n: AttackNode;
  let victimCard: IssuedCard;
  const immunization = (id: string, patientId: string) => ({
    resourceType: "Immunization",
    id,
    status: "completed",
    vaccineCode: { coding: [{ system: "http://hl7.org/fhir/sid/cvx", code: "208" }] },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime: "2021-05-01",
    lotNumber: "EW0001",
  });
  const verify = async (credential: string): Promise<PassportReport> => {
    const response = await fetch(`${n.url}/passport/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ credential }),
    });
    return ((await response.json()) as { reports: PassportReport[] }).reports[0] as PassportReport;
  };
  const cardRows = async (patientId: string) =>
    n.node.context.store.db
      .selectFrom("passport_cards")
      .selectAll()
      .where("patient_id", "=", patientId)
      .execute();

  beforeAll(async () => {
    n = await startAttackNode(engine, "shc");
    const doc = await n.as(n.doc);
    for (const [id, patient, account] of [
      ["imm-1", n.p1.id, n.p1.account],
      ["imm-2", n.p2.id, n.p2.account],
    ] as const) {
      const written = await doc.send(
        "PUT",
        `/fhir/Immunization/${id}-${engine}`,
        immunization(`${id}-${engine}`, patient),
        undefined,
        {
          "x-patient-account": account.address,
        },
      );
      expect(written.status).toBeLessThan(300);
    }
    const { outbox, organizationId, store } = n.node.context;
    const admin = new IssuerAdmin(new IssuerKeys(store.db, n.node.services.keyProvider), outbox, n.url);
    await outbox.waitFor((await admin.approve(organizationId, true)).outboxId, 15_000);
    for (const id of (await admin.register()).outboxIds) await outbox.waitFor(id, 15_000);
    const victim = await n.as(n.p1.account);
    const issued = await victim.send("POST", "/passport/cards", { type: "immunization" });
    expect(issued.status).toBe(201);
    victimCard = (await issued.json()) as IssuedCard;
  }, 180_000);
  afterAll(async () => n?.dispose());

  it("a patient cannot issue a card from another patient's record", async () => {
    const attacker = await n.as(n.p2.account);
    const before = (await cardRows(n.p1.id)).length;
    const response = await attacker.send("POST", "/passport/cards", {
      type: "immunization",
      patient: n.p1.id,
    });
    expect(response.status).toBe(403);
    expect(await response.text()).not.toMatch(/One|1961|EW0001/);
    expect((await cardRows(n.p1.id)).length).toBe(before);
    // what the attacker can issue is about themself only
    const own = await attacker.send("POST", "/passport/cards", { type: "immunization" });
    expect(own.status).toBe(201);
    const card = (await own.json()) as IssuedCard;
    expect((await verify(card.jws)).patient?.name).toBe("Two");
  });

  it("a practitioner of another organization, and an anonymous caller, cannot issue", async () => {
    const outsider = await n.as(n.gp);
    const response = await outsider.send("POST", "/passport/cards", {
      type: "immunization",
      patient: n.p1.id,
    });
    expect(response.status).toBe(403);
    const anonymous = await fetch(`${n.url}/passport/cards`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "immunization", patient: n.p1.id }),
    });
    expect(anonymous.status).toBe(401);
  });

  it("a patient cannot revoke another patient's card", async () => {
    const attacker = await n.as(n.p2.account);
    const response = await attacker.send("POST", `/passport/cards/${victimCard.cardId}/revoke`, {});
    expect(response.status).toBe(403);
    expect((await cardRows(n.p1.id)).every((row) => row.revoked_at === null)).toBe(true);
    expect((await verify(victimCard.jws)).valid).toBe(true);
  });

  it("an organization that is not an issuer cannot register keys, nor take over or revoke another issuer's", async () => {
    const attacker = privateKeyToAccount(generatePrivateKey());
    const attackerOrg = keccak256(toHex(`mallory-${engine}`));
    await registerParticipants(
      n.node,
      [{ id: attackerOrg, name: "Mallory Clinic", node: attacker.address }],
      [],
    );
    const clients = await createChainClients(n.node.context.rpcUrl, attacker);
    const registry = n.node.context.deployment.credentialRegistry;
    const revertOf = async (functionName: string, args: readonly unknown[]): Promise<string | undefined> => {
      try {
        await clients.publicClient.simulateContract({
          account: attacker,
          address: registry,
          abi: credentialRegistryAbi,
          functionName,
          args,
        } as never);
      } catch (error) {
        const reverted = (error as ViemBaseError).walk((e) => e instanceof ContractFunctionRevertedError);
        return (reverted as ContractFunctionRevertedError | null)?.data?.errorName;
      }
      return undefined;
    };
    const jwk = publicJwk(
      generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }),
    );
    expect(await revertOf("registerIssuer", [n.url])).toBe("CredentialNotIssuer");
    expect(await revertOf("addKey", [bytes32Of(jwk.kid), bytes32Of(jwk.x), bytes32Of(jwk.y)])).toBe(
      "CredentialNotIssuer",
    );
    const victimKid: Hex = bytes32Of(victimCard.kid);
    expect(await revertOf("revokeKey", [victimKid])).toBe("CredentialNotIssuer");
    expect(await revertOf("revokeCard", [victimKid, "anything", 0n])).toBe("CredentialNotIssuer");
    expect((await verify(victimCard.jws)).valid).toBe(true);
  });

  it("a card forged in this issuer's name fails: with its kid the signature, with the forger's own kid the trust", async () => {
    const forger = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const forgerJwk = publicJwk(forger.publicKey.export({ format: "jwk" }));
    const [, payloadPart] = victimCard.jws.split(".") as [string, string, string];
    const payload = JSON.parse(inflateRawSync(Buffer.from(payloadPart, "base64url")).toString()) as {
      vc: { credentialSubject: { fhirBundle: { entry: Array<{ resource: Record<string, unknown> }> } } };
    };
    const patient = payload.vc.credentialSubject.fhirBundle.entry[0]?.resource;
    if (patient) patient["birthDate"] = "2001-01-01";
    const body = deflateRawSync(Buffer.from(JSON.stringify(payload))).toString("base64url");
    const forge = (kid: string): string => {
      const header = Buffer.from(JSON.stringify({ zip: "DEF", alg: "ES256", kid })).toString("base64url");
      return `${header}.${body}.${signEs256(`${header}.${body}`, forger.privateKey)}`;
    };
    expect((await verify(forge(victimCard.kid))).reason).toBe("signature_invalid");
    expect((await verify(forge(forgerJwk.kid))).reason).toBe("untrusted_key");
  });

  it("a revoked card replayed later is refused as revoked", async () => {
    const victim = await n.as(n.p1.account);
    const issued = await victim.send("POST", "/passport/cards", { type: "immunization" });
    const card = (await issued.json()) as IssuedCard;
    expect((await verify(card.qrPayloads[0] ?? "")).valid).toBe(true);
    const revoked = await victim.send("POST", `/passport/cards/${card.cardId}/revoke`, {});
    expect(revoked.status).toBe(202);
    await n.node.context.outbox.waitFor(((await revoked.json()) as { outboxId: number }).outboxId, 15_000);
    await fetch(`${n.url}/passport/ledger-cache`); // a fresh reading of the ledger
    for (const form of [card.jws, card.qrPayloads[0] ?? "", card.file]) {
      const report = await verify(form);
      expect(report.valid).toBe(false);
      expect(report.reason).toBe("revoked");
    }
  });
});
