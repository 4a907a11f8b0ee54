/**
 * The subscriptions and referrals suites' shared node (test/e2e/subscriptions/): a hospital node
 * (anvil + SQLite or PostgreSQL) with a physician, a GP clinic whose endpoint is a local hook
 * receiver, another clinic, a linked patient, and the patient's grant of labs and medications to
 * the GP for treatment.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { keccak256, toHex, type Hex } from "viem";
import { ParticipantAdmin } from "../../src/chain/participantAdmin.js";
import { loadConfig } from "../../src/config/config.js";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { signIn, type Session } from "./session.js";
import { freshDatabase, type FreshDatabase } from "./stores.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A stand-in for a practitioner's app / another node: fails the first hook attempt, then accepts. */
async function hookServer(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  let hookCalls = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const status = req.url === "/hook" && hookCalls++ === 0 ? 500 : 200;
      received.push({ path: req.url ?? "", headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; says whether it held. */
export const until = async (check: () => Promise<boolean> | boolean, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};

/** The node, its participants and sessions; sessions and the node are filled in `beforeAll`. */
export interface CareNode {
  readonly node: RunningNode;
  readonly hooks: Awaited<ReturnType<typeof hookServer>>;
  /** The hospital's physician. */
  readonly doc: Session;
  readonly gpSession: Session;
  /** The patient's session. */
  readonly me: Session;
  readonly patient: PrivateKeyAccount;
  /** A physician of the GP clinic, granted labs and medications for treatment. */
  readonly gp: PrivateKeyAccount;
  /** A physician of the other clinic, with no grant. */
  readonly stranger: PrivateKeyAccount;
  /** The GP clinic's node key (its endpoint is the hook receiver). */
  readonly clinicNode: PrivateKeyAccount;
  readonly clinic: Hex;
  readonly otherClinic: Hex;
  readonly patientId: string;
  domain(): Promise<Parameters<typeof signGrant>[1]>;
  nonce(): Promise<bigint>;
}

/** Starts the node for the enclosing `describe` and stops it after. */
export function careNode(engine: "sqlite" | "postgres"): CareNode {
  const dir = mkdtempSync(join(tmpdir(), "carechain-s3b-"));
  let database: FreshDatabase | undefined;
  const patient = privateKeyToAccount(generatePrivateKey());
  const gp = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const hospitalDoc = privateKeyToAccount(generatePrivateKey());
  const clinicNode = privateKeyToAccount(generatePrivateKey());
  const clinic = keccak256(toHex(`gp-clinic-${engine}`));
  const otherClinic = keccak256(toHex(`other-clinic-${engine}`));
  const patientId = "sub-patient-1";
  let node: RunningNode | undefined;
  let hooks: Awaited<ReturnType<typeof hookServer>> | undefined;
  const care = {
    patient,
    gp,
    stranger,
    clinicNode,
    clinic,
    otherClinic,
    patientId,
    domain: async () =>
      (await (await fetch(`${care.node.url}/consents/domain`)).json()) as Parameters<typeof signGrant>[1],
    nonce: async () =>
      BigInt((await (await fetch(`${care.node.url}/consents/nonce/${patient.address}`)).json()).nonce),
  } as { -readonly [K in keyof CareNode]: CareNode[K] };

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    hooks = care.hooks = await hookServer();
    node = care.node = await startNode(
      // The hook receiver runs on loopback, which REST hooks may reach only when the operator allows it.
      loadConfig(
        {},
        { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 500, hookAllow: "127.0.0.1" },
      ),
      { logger: createLogger("silent") },
    );
    const { outbox, organizationId, indexer } = node.context;
    const admin = new ParticipantAdmin(outbox);
    const intents = [
      await admin.registerOrganization({
        id: clinic,
        name: "Elm Street GP",
        kind: "clinic",
        endpoint: hooks.url,
        node: clinicNode.address,
      }),
      await admin.registerOrganization({
        id: otherClinic,
        name: "Other Clinic",
        kind: "clinic",
        endpoint: "http://127.0.0.1:2",
        node: privateKeyToAccount(generatePrivateKey()).address,
      }),
    ];
    await outbox.waitFor(`register-organization:${organizationId}`, 15_000);
    intents.push(await admin.addPractitioner(clinic, gp.address, "physician"));
    intents.push(await admin.addPractitioner(otherClinic, stranger.address, "physician"));
    intents.push(await admin.addPractitioner(organizationId, hospitalDoc.address, "physician"));
    let last = 0;
    for (const i of intents) last = Math.max(last, (await outbox.waitFor(i.id, 15_000)).block_number ?? 0);
    await indexer.waitForBlock(BigInt(last), 10_000);

    care.doc = await signIn(node.url, hospitalDoc);
    const created = await care.doc.send("POST", "/fhir/Patient", {
      resourceType: "Patient",
      id: patientId,
      identifier: [{ system: "https://carechain.dev/fhir/sid/account", value: patient.address }],
    });
    expect(created.status).toBe(201);
    care.me = await signIn(node.url, patient);
    care.gpSession = await signIn(node.url, gp);

    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "medications"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date("2030-01-01T00:00:00Z"),
    });
    const granted = await fetch(`${node.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        signedGrantToJson(message, await signGrant(patient, await care.domain(), message)),
      ),
    });
    expect(granted.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await new Promise((r) => hooks?.server.close(r));
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  return care;
}
