import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, toHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPassportVerify } from "../../src/cli/passportCommand.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { IssuerAdmin } from "../../src/passport/issuerAdmin.js";
import { IssuerKeys } from "../../src/passport/issuerKeys.js";
import type { PassportReport } from "../../src/passport/passportReport.js";
import type { IssuedCard } from "../../src/passport/passportService.js";
import { decodeQrPng } from "../../src/passport/qrImage.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

const SYNTHEA = join(import.meta.dirname, "..", "fixtures", "synthea");
const bundle = JSON.parse(
  readFileSync(join(SYNTHEA, readdirSync(SYNTHEA).find((f) => f.startsWith("Alfreda_Wyman")) ?? ""), "utf8"),
) as { entry: Array<{ resource: { resourceType: string; id: string } }> };
const patientId = bundle.entry[0]?.resource.id ?? "";

type Verified = { valid: boolean; reports: PassportReport[] };

/**
 * Scenario 5 on a real node (anvil + SQLite or PostgreSQL): the governor lets this lab issue; the
 * operator registers its issuer key on the CredentialRegistry through the outbox; the patient
 * issues a card from their own immunizations; it verifies from its QR image through the node, from
 * a ledger cache file offline, and with @pathcheck/shc-sdk against the node's jwks.json; revoking
 * the card, rotating and revoking keys show up to verifiers with a fresh ledger reading; nothing
 * about the patient reaches the ledger.
 */
describe.each(engines)("digital health passport (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-s5-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  let admin: IssuerAdmin;
  let me: Session;
  let card: IssuedCard & { qrPng: string[]; qrSvg: string[] };
  const patient = privateKeyToAccount(generatePrivateKey());
  const recorder = privateKeyToAccount(generatePrivateKey());

  const verify = async (body: object): Promise<Verified> => {
    const response = await fetch(`${node.url}/passport/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Verified;
  };
  const freshLedgerCache = async (): Promise<string> => {
    const path = join(dir, `ledger-cache-${Date.now()}.json`);
    writeFileSync(path, await (await fetch(`${node.url}/passport/ledger-cache`)).text());
    return path;
  };
  const issue = async (): Promise<IssuedCard & { qrPng: string[]; qrSvg: string[] }> => {
    const response = await me.send("POST", "/passport/cards", { type: "immunization", images: true });
    expect(response.status).toBe(201);
    return (await response.json()) as IssuedCard & { qrPng: string[]; qrSvg: string[] };
  };

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig(
        {},
        { dataDir: dir, port: 0, databaseUrl: database?.url, orgKind: "lab", orgName: "Harbor Lab" },
      ),
      { logger: createLogger("silent") },
    );
    await registerParticipants(node, [], [{ account: recorder.address, role: "physician" }]);
    const doc = await signIn(node.url, recorder);
    const imported = await doc.send("POST", "/fhir", bundle, undefined, {
      "x-patient-account": patient.address,
    });
    expect(imported.status).toBe(200);
    me = await signIn(node.url, patient);

    const { outbox, organizationId, store } = node.context;
    admin = new IssuerAdmin(new IssuerKeys(store.db, node.services.keyProvider), outbox, node.url);
    await outbox.waitFor((await admin.approve(organizationId, true)).outboxId, 15_000);
    const registered = await admin.register();
    for (const id of registered.outboxIds) await outbox.waitFor(id, 15_000);
    card = await issue();
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("the patient's card verifies from its QR image through the node, naming issuer, patient and doses", async () => {
    expect(card.qrPayloads).toHaveLength(1);
    expect(decodeQrPng(Buffer.from(card.qrPng[0] ?? "", "base64"))).toBe(card.qrPayloads[0]);
    expect(card.qrSvg[0]).toMatch(/^<svg/);
    const { valid, reports } = await verify({ qrPng: card.qrPng });
    expect(valid).toBe(true);
    const [report] = reports as [PassportReport];
    expect(report.issuer).toMatchObject({
      id: node.url,
      kid: card.kid,
      name: "Harbor Lab",
      trustedBy: "ledger",
    });
    expect(report.patient).toEqual({ name: "Alfreda Wyman", birthDate: "1980-10-28" });
    expect(report.facts.length).toBe(7);
    expect(
      report.facts.every(
        (fact) => fact.kind === "immunization" && fact.system === "http://hl7.org/fhir/sid/cvx",
      ),
    ).toBe(true);
    expect(report.checks.every((check) => check.status === "pass")).toBe(true);
  });

  it("each issuance is an audit entry for the patient", async () => {
    await node.services.audit.flush();
    const entries = await node.services.audit.entries({ patient: patient.address, limit: 1000 });
    const issued = entries.filter((stored) => stored.entry.action === "issue");
    expect(issued.length).toBeGreaterThanOrEqual(1);
    expect(issued[0]?.text).toContain(`Patient/${patientId}`);
    expect(issued[0]?.text).not.toMatch(/Wyman|1980-10-28/);
  });

  it("the node serves jwks.json and the CRL from the ledger; @pathcheck/shc-sdk verifies the card against them", async () => {
    const jwks = (await (await fetch(`${node.url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string; d?: string }>;
    };
    expect(jwks.keys.map((key) => key.kid)).toEqual([card.kid]);
    expect(jwks.keys[0]?.d).toBeUndefined();
    const crl = (await (await fetch(`${node.url}/.well-known/crl/${card.kid}.json`)).json()) as {
      ctr: number;
      rids: string[];
    };
    expect(crl).toEqual({ kid: card.kid, method: "rid", ctr: 0, rids: [] });
    const sdk = createRequire(import.meta.url)("@pathcheck/shc-sdk") as {
      unpackAndVerify(uri: string): Promise<{ credential: { iss: string } } | undefined>;
    };
    expect((await sdk.unpackAndVerify(card.qrPayloads[0] ?? ""))?.credential.iss).toBe(node.url);
  });

  it("an offline verifier with a ledger cache file accepts it and shows the cache's age", async () => {
    const cache = await freshLedgerCache();
    const cardFile = join(dir, "card.smart-health-card");
    writeFileSync(cardFile, card.file);
    let output = "";
    const code = runPassportVerify(
      [cardFile],
      { ledgerCache: cache, json: true },
      (text) => (output += text),
    );
    expect(code).toBe(0);
    const [report] = (JSON.parse(output) as Verified).reports;
    expect(report?.ledgerCache?.ageSeconds).toBeGreaterThanOrEqual(0);
    // without any trust the same card is not valid: trust is what the cache gave
    expect(runPassportVerify([cardFile], {}, () => undefined)).toBe(1);
  });

  it("a revoked card is revoked for verifiers with a fresh ledger reading or CRL, not for a stale cache", async () => {
    const stale = await freshLedgerCache();
    const second = await issue();
    const listed = (await (await me.get("/passport/cards")).json()) as { cards: Array<{ cardId: string }> };
    expect(listed.cards.map((c) => c.cardId)).toEqual(expect.arrayContaining([card.cardId, second.cardId]));
    const revoked = await me.send("POST", `/passport/cards/${second.cardId}/revoke`, {});
    expect(revoked.status).toBe(202);
    await node.context.outbox.waitFor(((await revoked.json()) as { outboxId: number }).outboxId, 15_000);

    const fresh = await freshLedgerCache();
    const reasonWith = (cache: string) => {
      let output = "";
      runPassportVerify([second.jws], { ledgerCache: cache, json: true }, (text) => (output += text));
      return (JSON.parse(output) as Verified).reports[0]?.reason;
    };
    expect(reasonWith(fresh)).toBe("revoked");
    expect(reasonWith(stale)).toBeNull();
    expect((await verify({ credential: second.qrPayloads[0] })).reports[0]?.reason).toBe("revoked");
    expect((await verify({ credential: card.qrPayloads[0] })).valid).toBe(true);
    const crl = (await (await fetch(`${node.url}/.well-known/crl/${second.kid}.json`)).json()) as {
      ctr: number;
      rids: string[];
    };
    expect(crl.ctr).toBe(1);
    expect(crl.rids).toHaveLength(1);
    const jwks = (await (await fetch(`${node.url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ crlVersion?: number }>;
    };
    expect(jwks.keys[0]?.crlVersion).toBe(1);
  });

  it("rotation keeps old cards valid and signs new ones with the new key; a revoked key fails its cards", async () => {
    const rotated = await admin.rotate();
    await node.context.outbox.waitFor(rotated.outboxId, 15_000);
    const next = await issue();
    expect(next.kid).toBe(rotated.kid);
    expect(next.kid).not.toBe(card.kid);
    await freshLedgerCache();
    expect((await verify({ credential: card.jws })).valid).toBe(true);
    expect((await verify({ credential: next.jws })).valid).toBe(true);

    const revokedKey = await admin.revokeKey(rotated.kid);
    await node.context.outbox.waitFor(revokedKey.outboxId, 15_000);
    await freshLedgerCache();
    expect((await verify({ credential: next.jws })).reports[0]?.reason).toBe("key_revoked");
    const jwks = (await (await fetch(`${node.url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(jwks.keys.map((key) => key.kid)).toEqual([card.kid]);
    // no active key is left: issuing is refused until the operator rotates or registers again
    expect((await me.send("POST", "/passport/cards", { type: "immunization" })).status).toBe(404);
  });

  it("nothing about the patient is on the ledger: the registry's events hold keys, URLs and rids only", async () => {
    const logs = await node.context.clients.publicClient.getLogs({
      address: node.context.deployment.credentialRegistry,
      fromBlock: 0n,
    });
    expect(logs.length).toBeGreaterThanOrEqual(6);
    const onChain = logs
      .map((log) => `${log.topics.join("")}${log.data}`)
      .join("")
      .toLowerCase();
    const hexOf = (text: string): string => toHex(text).slice(2).toLowerCase();
    for (const secret of ["Alfreda", "Wyman", "1980-10-28", patientId])
      expect(onChain).not.toContain(hexOf(secret));
    expect(onChain).not.toContain(patient.address.slice(2).toLowerCase());
    expect(onChain).not.toContain(keccak256(toHex(patientId)).slice(2));
    const hex: Hex = `0x${onChain}`;
    expect(hex.length).toBeGreaterThan(2);
  });
});
