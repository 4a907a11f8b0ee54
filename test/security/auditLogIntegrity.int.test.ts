import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, keccak256, toHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { latestAnchor } from "../../src/audit/chainAnchors.js";
import type { EntryProof } from "../../src/audit/entryProof.js";
import { pushLeaf, textLeafHash, type EdgeNode } from "../../src/audit/serverHash.js";
import { signTreeHead } from "../../src/audit/treeHead.js";
import { verifyAccessLog, type AccessLogDocument } from "../../src/audit/verifyAccessLog.js";
import { startAnvil, type Anvil } from "../../src/chain/anvil.js";
import { auditAnchorAbi } from "../../src/chain/artifacts/AuditAnchor.js";
import { loadConfig, type Config } from "../../src/config/config.js";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import { writeKeystoreFile } from "../../src/crypto/keystore.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { openStore } from "../../src/store/database.js";
import { expectRevert } from "../contracts/chainFixture.js";
import { runCli } from "../support/cli.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

const PASSWORD = "correct horse battery staple";

/** `/audit/me` as the patient receives it. */
type Page = Omit<AccessLogDocument, "items"> & {
  items: Array<{ index: number; entry: { actor: { account: string } }; proof: EntryProof | null }>;
};

/**
 * The operator attacks its own node's audit log (issue 13 items 5 and 6), written as the operator
 * would act, with the database and the node key in hand:
 * (b) it deletes one practitioner's reads from the patient index, so `/audit/me` leaves them out;
 *     the patient's own verification (library and `carechain audit log --verify`), which reads the
 *     anchored roots from the ledger, must call the log incomplete;
 * (a) it rewrites an anchored entry together with every stored hash and restarts: the node must
 *     refuse to anchor and say so in `/health`, and the contract must refuse the rewritten log
 *     even when the operator signs and relays the head itself.
 */
describe.each(engines)("operator attacks on the audit log (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-audit-attack-"));
  const keys = { patient: generatePrivateKey() };
  const patient = privateKeyToAccount(keys.patient);
  const gp = privateKeyToAccount(generatePrivateKey());
  const nurse = privateKeyToAccount(generatePrivateKey());
  const doc = privateKeyToAccount(generatePrivateKey());
  const clinic = keccak256(toHex("attack-gp-clinic"));
  let anvil: Anvil;
  let database: FreshDatabase | undefined;
  let config: Config;
  let node: RunningNode;
  let me: Session;

  const accessLog = async (): Promise<Page> => (await (await me.get("/audit/me?limit=1000")).json()) as Page;
  const verify = async () =>
    verifyAccessLog(
      await accessLog(),
      patient.address,
      node.context.clients.publicClient,
      node.context.deployment.auditAnchor,
    );
  /** Waits until the ledger's anchor covers every entry appended so far. */
  const anchoredAll = async () => {
    await node.services.audit.flush();
    const size = node.services.audit.size();
    const deadline = Date.now() + 20_000;
    while ((await accessLog()).anchoredSize < size) {
      if (Date.now() > deadline) throw new Error("the log was not anchored in time");
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const patientCli = (args: string[]) =>
    runCli(args, {
      CARECHAIN_NODE: node.url,
      CARECHAIN_PASSWORD: PASSWORD,
      CARECHAIN_KEYSTORE: join(dir, "patient.json"),
      CHAIN_RPC_URL: "",
    });
  const reads = async (who: typeof gp, times: number) => {
    const session = await signIn(node.url, who);
    for (let i = 0; i < times; i++)
      expect((await session.get("/fhir/Observation/attack-lab-1", "TREAT")).status).toBe(200);
  };

  beforeAll(async () => {
    anvil = await startAnvil();
    if (engine === "postgres") database = await freshDatabase();
    config = loadConfig(
      {},
      {
        dataDir: join(dir, "node"),
        port: 0,
        databaseUrl: database?.url,
        chainRpcUrl: anvil.rpcUrl,
        anchorIntervalMs: 200,
      },
    );
    node = await startNode(config, { logger: createLogger("silent") });
    await writeKeystoreFile(join(dir, "patient.json"), keys.patient, PASSWORD, { n: 2 ** 10 });
    await registerParticipants(
      node,
      [{ id: clinic, name: "Elm Street GP" }],
      [
        { organization: clinic, account: gp.address, role: "physician" },
        { organization: clinic, account: nurse.address, role: "nurse" },
        { account: doc.address, role: "physician" },
      ],
    );
    const author = await signIn(node.url, doc);
    const imported = await author.send(
      "POST",
      "/fhir",
      {
        resourceType: "Bundle",
        type: "collection",
        entry: [
          { resource: { resourceType: "Patient", id: "attack-pat-1" } },
          {
            resource: {
              resourceType: "Observation",
              id: "attack-lab-1",
              status: "final",
              category: [
                {
                  coding: [
                    {
                      system: "http://terminology.hl7.org/CodeSystem/observation-category",
                      code: "laboratory",
                    },
                  ],
                },
              ],
              code: { coding: [{ system: "http://loinc.org", code: "2345-7" }] },
              subject: { reference: "Patient/attack-pat-1" },
              effectiveDateTime: "2024-03-01T09:00:00Z",
            },
          },
        ],
      },
      undefined,
      { "x-patient-account": patient.address },
    );
    expect(imported.status).toBe(200);
    const domain = (await (await fetch(`${node.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    for (const who of [gp, nurse]) {
      const message = buildGrantMessage({
        patient: patient.address,
        grantee: { kind: "practitioner", account: who.address },
        categories: ["labs"],
        purposes: ["TREAT"],
        actions: ["read"],
        notBefore: Math.floor(Date.now() / 1000) - 60,
        notAfter: new Date("2030-01-01T00:00:00Z"),
      });
      const submitted = await fetch(`${node.url}/consents?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
      });
      expect(submitted.status).toBe(201);
    }
    await reads(gp, 3);
    await reads(nurse, 2);
    me = await signIn(node.url, patient);
    await anchoredAll();
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await anvil?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("(b) a practitioner's reads deleted from the patient index: the patient's own verification calls the log incomplete", async () => {
    const before = await accessLog();
    const gpReads = before.items.filter((i) => i.entry.actor.account === gp.address).map((i) => i.index);
    expect(gpReads).toHaveLength(3);
    const honest = await verify();
    expect(honest).toMatchObject({ ok: true, anchoredSize: before.anchoredSize });
    expect(honest.ok && honest.count).toBe(before.items.length);
    const clean = await patientCli(["audit", "log", "--verify"]);
    expect(clean.code, clean.stderr).toBe(0);

    // The operator: bring the index up to date, then drop the GP's reads from it.
    await node.services.audit.indexPatients();
    const { db } = node.context.store;
    const removed = await db
      .selectFrom("audit_patient_runs")
      .selectAll()
      .where("idx", "in", gpReads)
      .execute();
    expect(removed).toHaveLength(3);
    await db.deleteFrom("audit_patient_runs").where("idx", "in", gpReads).execute();
    try {
      const after = await accessLog();
      expect(after.items.map((i) => i.entry.actor.account)).not.toContain(gp.address);
      expect(after.items).toHaveLength(before.items.length - 3);

      const verdict = await verify();
      expect(verdict).toMatchObject({ ok: false, reason: "entry-missing" });
      expect(gpReads).toContain(verdict.ok ? -1 : verdict.index);

      const cli = await patientCli(["audit", "log", "--verify"]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(
        /^carechain: the access log is incomplete or altered: entry-missing at entry \d+/,
      );
    } finally {
      await db.insertInto("audit_patient_runs").values(removed).execute();
    }
    expect(await verify()).toMatchObject({ ok: true });
  }, 120_000);

  it("(c) the persisted patient map or an entry's patient column altered: the operator's audit verify recomputes the chains and map from the entry texts and fails", async () => {
    const operatorVerify = () =>
      runCli(["--data-dir", config.dataDir, "audit", "verify", "--chain-rpc", anvil.rpcUrl], {
        DATABASE_URL: database?.url ?? "",
        CHAIN_RPC_URL: "",
      });
    await anchoredAll();
    const persistedSize = await node.services.audit.patientMapPersisted();
    expect(persistedSize).toBeGreaterThan(0);
    const clean = await operatorVerify();
    expect(clean.code, clean.stderr).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true });

    const { db } = node.context.store;
    const key = patient.address.toLowerCase();
    const row = await db
      .selectFrom("audit_patient_map")
      .selectAll()
      .where("patient", "=", key)
      .executeTakeFirstOrThrow();
    const gpRead = (await accessLog()).items.find((i) => i.entry.actor.account === gp.address)!;
    expect(gpRead).toBeDefined();

    // The operator: the patient's persisted map forgets their last entry (a restart would build
    // the map, and every later anchored map root, without it).
    await db
      .updateTable("audit_patient_map")
      .set({ entry_count: Number(row.entry_count) - 1 })
      .where("patient", "=", key)
      .execute();
    try {
      const forged = await operatorVerify();
      expect(forged.code).toBe(1);
      expect(forged.stderr).toMatch(
        /^carechain: audit log diverges at entry \d+: the persisted patient map counts \d+ entries up to entry \d+; the log has \d+/,
      );
    } finally {
      await db
        .updateTable("audit_patient_map")
        .set({ entry_count: row.entry_count })
        .where("patient", "=", key)
        .execute();
    }

    // The operator: a GP's read is filed under someone else in the patient column, which the
    // patient index and a restarted node's map are built from.
    await db
      .updateTable("audit_entries")
      .set({ patient: "0x000000000000000000000000000000000000dead" })
      .where("idx", "=", gpRead.index)
      .execute();
    try {
      const moved = await operatorVerify();
      expect(moved.code).toBe(1);
      expect(moved.stderr).toMatch(
        new RegExp(
          `^carechain: audit log diverges at entry ${gpRead.index}: entry ${gpRead.index}: the stored patient column differs from the entry's patient`,
        ),
      );
    } finally {
      await db.updateTable("audit_entries").set({ patient: key }).where("idx", "=", gpRead.index).execute();
    }
    const restored = await operatorVerify();
    expect(restored.code, restored.stderr).toBe(0);
  }, 120_000);

  it("(a) an anchored entry rewritten with every stored hash: the node refuses to anchor and says so; the contract refuses the log", async () => {
    const { anchoredSize } = await accessLog();
    const anchorAddress = node.context.deployment.auditAnchor;
    const nodeKey = node.context.key.account;
    const before = await latestAnchor(node.context.clients.publicClient, anchorAddress, nodeKey.address);
    expect(before?.treeSize).toBe(anchoredSize);
    await node.stop();

    // The operator: the nurse's first read becomes a read by the GP, and every hash follows.
    const store = await openStore(
      database ? { databaseUrl: database.url } : { sqlitePath: join(config.dataDir, "carechain.db") },
    );
    try {
      const rows = await store.db.selectFrom("audit_entries").selectAll().orderBy("idx", "asc").execute();
      const target = rows.find((r) => r.entry.includes(nurse.address) && Number(r.idx) < anchoredSize)!;
      expect(target).toBeDefined();
      const edge: EdgeNode[] = [];
      for (const row of rows) {
        const text = row === target ? row.entry.replace(nurse.address, gp.address) : row.entry;
        const leaf = textLeafHash(text);
        const completed = pushLeaf(edge, Number(row.idx), leaf);
        await store.db
          .updateTable("audit_entries")
          .set({
            entry: text,
            leaf_hash: leaf,
            subtrees: completed.length === 0 ? null : Buffer.concat(completed),
          })
          .where("idx", "=", row.idx)
          .execute();
      }
      await store.db.deleteFrom("audit_tree_heads").execute();
    } finally {
      await store.close();
    }

    node = await startNode(config, { logger: createLogger("silent") });
    const health = await fetch(`${node.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: "degraded",
      audit: { consistentWithAnchor: false, inconsistency: "root-differs-from-anchor" },
    });

    // New entries arrive; the node does not anchor them.
    me = await signIn(node.url, patient);
    await reads(gp, 2);
    await node.services.audit.flush();
    expect(await node.services.anchorer.tick(true)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1000));
    const still = await latestAnchor(node.context.clients.publicClient, anchorAddress, nodeKey.address);
    expect(still).toEqual(before);

    // The operator signs and relays the rewritten head itself, with a proof from its rewritten log.
    const log = node.services.audit;
    const size = log.size();
    expect(size).toBeGreaterThan(anchoredSize);
    const head = await signTreeHead(
      nodeKey,
      {
        treeSize: size,
        rootHash: bytesToHex(await log.root(size)),
        mapRoot: await log.patientMapRootAt(size),
        timestamp: Math.floor(Date.now() / 1000),
      },
      { chainId: node.context.clients.chainId, verifyingContract: anchorAddress },
    );
    const proof = (await log.consistencyProof(anchoredSize, size)).map((h) => bytesToHex(h) as Hex);
    await expectRevert(
      node.context.clients.publicClient.simulateContract({
        address: anchorAddress,
        abi: auditAnchorAbi,
        functionName: "anchor",
        args: [
          {
            node: head.node,
            treeSize: BigInt(head.treeSize),
            rootHash: head.rootHash,
            mapRoot: head.mapRoot,
            timestamp: BigInt(head.timestamp),
          },
          head.signature,
          proof,
        ],
        account: nodeKey,
      }),
      "AuditAnchorInconsistent",
      [BigInt(anchoredSize), BigInt(size)],
    );
  }, 120_000);
});
