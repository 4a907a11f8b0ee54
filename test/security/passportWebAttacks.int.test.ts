import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureWebBuilt } from "../../scripts/buildWeb.js";
import { IssuerAdmin } from "../../src/passport/issuerAdmin.js";
import { IssuerKeys } from "../../src/passport/issuerKeys.js";
import type { IssuedCard } from "../../src/passport/passportService.js";
import { signIn, type Session } from "../support/session.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "./attackNode.js";

/**
 * Attacks on what the passport's web pages added: the issuer console's routes (anyone but this
 * node's operator managing its keys, revoking cards or reading its issued cards), the patient
 * page's list of eligible records (read for another patient), and the public verifier (its page
 * and service worker, which must say nothing about anyone, whoever asks and however).
 */
describe.each(engines)("passport web attacks (%s)", (engine) => {
  let n: AttackNode;
  let card: IssuedCard;
  let operator: Session;
  const CONSOLE_WRITES = [
    "/passport/issuer/register",
    "/passport/issuer/rotate-key",
    "/passport/issuer/approve",
  ] as const;
  const registryWrites = async (): Promise<number> =>
    (
      await n.node.context.store.db
        .selectFrom("outbox")
        .select("id")
        .where("contract", "=", "CredentialRegistry")
        .execute()
    ).length;

  beforeAll(async () => {
    ensureWebBuilt();
    n = await startAttackNode(engine, "shcweb");
    const written = await (
      await n.as(n.doc)
    ).send(
      "PUT",
      `/fhir/Immunization/imm-web-${engine}`,
      {
        resourceType: "Immunization",
        id: `imm-web-${engine}`,
        status: "completed",
        vaccineCode: { coding: [{ system: "http://hl7.org/fhir/sid/cvx", code: "208" }] },
        patient: { reference: `Patient/${n.p1.id}` },
        occurrenceDateTime: "2021-05-01",
        lotNumber: "EW0001",
      },
      undefined,
      { "x-patient-account": n.p1.account.address },
    );
    expect(written.status).toBeLessThan(300);
    const { outbox, organizationId, store } = n.node.context;
    const admin = new IssuerAdmin(new IssuerKeys(store.db, n.node.services.keyProvider), outbox, n.url);
    await outbox.waitFor((await admin.approve(organizationId, true)).outboxId, 15_000);
    for (const id of (await admin.register()).outboxIds) await outbox.waitFor(id, 15_000);
    const issued = await (await n.as(n.p1.account)).send("POST", "/passport/cards", { type: "immunization" });
    expect(issued.status).toBe(201);
    card = (await issued.json()) as IssuedCard;
    operator = await signIn(n.url, privateKeyToAccount(n.node.context.key.privateKey), { kind: "node" });
  }, 180_000);
  afterAll(async () => n?.dispose());

  it("nobody but the node's operator reads the issuer console or changes its keys and cards", async () => {
    const before = await registryWrites();
    const kid = card.kid;
    for (const [who, account] of [
      ["patient", n.p1.account],
      ["hospital physician", n.doc],
      ["hospital admin", n.admin],
      ["other organization's physician", n.gp],
    ] as const) {
      const session = await n.as(account);
      const read = await session.get("/passport/issuer");
      expect(read.status, `${who} reads the console`).toBe(403);
      expect(await read.text(), who).not.toContain(card.cardId);
      for (const path of [...CONSOLE_WRITES, `/passport/issuer/keys/${kid}/revoke`]) {
        expect((await session.send("POST", path, {})).status, `${who} POST ${path}`).toBe(403);
      }
    }
    // the GP of another organization cannot revoke this issuer's card either
    const gp = await n.as(n.gp);
    expect((await gp.send("POST", `/passport/cards/${card.cardId}/revoke`, {})).status).toBe(403);
    expect(await registryWrites()).toBe(before);
    // the key still signs and the card still stands
    const [state] = [
      (await (await operator.get("/passport/issuer")).json()) as {
        keys: Array<{ kid: string; status: string }>;
        cards: Array<{ cardId: string; revokedAt: string | null }>;
      },
    ];
    expect(state.keys.find((key) => key.kid === kid)?.status).toBe("active");
    expect(state.cards.find((c) => c.cardId === card.cardId)?.revokedAt).toBeNull();
  });

  it("the console lists the issued cards without naming any patient", async () => {
    const response = await operator.get("/passport/issuer");
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain(card.cardId);
    for (const secret of [
      n.p1.id,
      "One",
      "1961-04-12",
      n.p1.account.address,
      n.p1.account.address.toLowerCase(),
    ])
      expect(text, secret).not.toContain(secret);
  });

  it("a patient cannot list another patient's records eligible for a card, nor can an outside practitioner", async () => {
    const attacker = await n.as(n.p2.account);
    const response = await attacker.get(`/passport/eligible?patient=${n.p1.id}`);
    expect(response.status).toBe(403);
    expect(await response.text()).not.toMatch(/EW0001|2021-05-01|imm-web/);
    expect((await (await n.as(n.gp)).get(`/passport/eligible?patient=${n.p1.id}`)).status).toBe(403);
    expect((await fetch(`${n.url}/passport/eligible?patient=${n.p1.id}`)).status).toBe(401);
    // the patient's own list is there
    const own = (await (await (await n.as(n.p1.account)).get("/passport/eligible")).json()) as {
      immunization: Array<{ id: string }>;
    };
    expect(own.immunization.map((record) => record.id)).toEqual([`imm-web-${engine}`]);
  });

  it("the public verifier page and its service worker are the same static files for anyone, naming no one", async () => {
    const patientSession = await n.as(n.p1.account);
    for (const path of ["/verify", `/verify?patient=${n.p1.id}`, "/verify-sw.js"]) {
      const anonymous = await fetch(`${n.url}${path}`);
      expect(anonymous.status, path).toBe(200);
      const signedIn = await patientSession.get(path);
      const body = await anonymous.text();
      expect(await signedIn.text(), path).toBe(body);
      for (const secret of [n.p1.id, "One", "1961-04-12", card.cardId, "EW0001"])
        expect(body, `${path}: ${secret}`).not.toContain(secret);
    }
    // the worker keeps the verifier's files, not the signed-in pages
    const worker = await (await fetch(`${n.url}/verify-sw.js`)).text();
    expect(worker).toMatch(/\/assets\/Verifier-[\w-]+\.js/);
    expect(worker).not.toMatch(/\/assets\/(MyRecord|Passport|Issuer|AccessLog)-/);
    // and the ledger cache it keeps holds issuers, keys and revocation ids only
    const cache = await (await fetch(`${n.url}/passport/ledger-cache`)).text();
    for (const secret of [n.p1.id, "One", "1961-04-12", card.cardId, n.p1.account.address.toLowerCase()])
      expect(cache, secret).not.toContain(secret);
  });
});
