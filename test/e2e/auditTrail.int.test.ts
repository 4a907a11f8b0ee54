import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { readAnchors } from "../../src/audit/chainAnchors.js";
import { verifyEntryProof, type EntryProof } from "../../src/audit/entryProof.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { runCli } from "../support/cli.js";
import { registerParticipants } from "../support/participants.js";
import { grantLabsForTreatment } from "../support/grants.js";
import { signIn, type Session } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

interface LogItem {
  index: number;
  entry: { action: string; decision: string; actor: { account: string } };
  proof: EntryProof | null;
}

/**
 * The must-show: a practitioner's permitted read and a denied attempt both appear in the
 * patient's access log with inclusion proofs that verify against the root anchored on chain; and
 * a stored entry edited, deleted or reordered afterwards is found at its index, by the operator's
 * `carechain audit verify` (roots read from the ledger, not from the node's database).
 */
describe.each(engines)("audit trail (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-audit-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  const patient = privateKeyToAccount(generatePrivateKey());
  const gp = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const doc = privateKeyToAccount(generatePrivateKey());
  const clinic = keccak256(toHex("audit-gp-clinic"));
  const otherClinic = keccak256(toHex("audit-other-clinic"));
  let me: Session;
  let read: LogItem;
  let denied: LogItem;
  const verifyCli = () =>
    runCli(["--data-dir", dir, "audit", "verify", "--chain-rpc", node.context.rpcUrl], {
      DATABASE_URL: database?.url ?? "",
      CHAIN_RPC_URL: "",
    });
  const anchorsOnChain = () =>
    readAnchors(
      node.context.clients.publicClient,
      node.context.deployment.auditAnchor,
      node.context.key.account.address,
    );

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 300 }),
      { logger: createLogger("silent") },
    );
    await registerParticipants(
      node,
      [
        { id: clinic, name: "Elm Street GP" },
        { id: otherClinic, name: "Other Clinic" },
      ],
      [
        { organization: clinic, account: gp.address, role: "physician" },
        { organization: otherClinic, account: stranger.address, role: "physician" },
        { account: doc.address, role: "physician" },
      ],
    );

    const author = await signIn(node.url, doc);
    const lab = {
      resourceType: "Observation",
      id: "audit-lab-1",
      status: "final",
      category: [
        {
          coding: [
            { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
          ],
        },
      ],
      code: { coding: [{ system: "http://loinc.org", code: "2345-7" }] },
      subject: { reference: "Patient/audit-pat-1" },
      effectiveDateTime: "2024-03-01T09:00:00Z",
    };
    const imported = await author.send(
      "POST",
      "/fhir",
      {
        resourceType: "Bundle",
        type: "collection",
        entry: [{ resource: { resourceType: "Patient", id: "audit-pat-1" } }, { resource: lab }],
      },
      undefined,
      { "x-patient-account": patient.address },
    );
    expect(imported.status).toBe(200);

    const submitted = await grantLabsForTreatment(node.url, patient, gp.address);
    expect(submitted.status).toBe(201);

    expect((await (await signIn(node.url, gp)).get("/fhir/Observation/audit-lab-1", "TREAT")).status).toBe(
      200,
    );
    expect(
      (await (await signIn(node.url, stranger)).get("/fhir/Observation/audit-lab-1", "TREAT")).status,
    ).toBe(404);
    me = await signIn(node.url, patient);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("shows the permitted read and the denied attempt with proofs to the root anchored on chain", async () => {
    await node.services.audit.flush();
    const size = node.services.audit.size();
    const deadline = Date.now() + 15_000;
    let items: LogItem[] = [];
    for (;;) {
      const body = (await (await me.get("/audit/me?limit=1000")).json()) as {
        items: LogItem[];
        anchoredSize: number;
      };
      items = body.items;
      if (body.anchoredSize >= size) break;
      if (Date.now() > deadline) throw new Error("the log was not anchored in time");
      await new Promise((r) => setTimeout(r, 100));
    }
    read = items.find((i) => i.entry.action === "read" && i.entry.actor.account === gp.address)!;
    denied = items.find((i) => i.entry.decision === "deny" && i.entry.actor.account === stranger.address)!;
    expect(read).toBeDefined();
    expect(denied).toBeDefined();
    const { publicClient } = node.context.clients;
    const anchor = node.context.deployment.auditAnchor;
    const onChain = await anchorsOnChain();
    for (const item of [read, denied]) {
      expect(item.proof).not.toBeNull();
      const verdict = await verifyEntryProof(item.proof!, publicClient, anchor);
      expect(verdict).toEqual({ ok: true, anchoredRoot: item.proof!.rootHash });
      expect(
        onChain.some((a) => a.treeSize === item.proof!.treeSize && a.rootHash === item.proof!.rootHash),
      ).toBe(true);
    }
    // the proof really binds the entry: another actor in the same entry does not verify
    const forged = { ...read.proof!, entry: read.proof!.entry.replace(gp.address, stranger.address) };
    expect(await verifyEntryProof(forged, publicClient, anchor)).toEqual({
      ok: false,
      reason: "proof-does-not-match-root",
    });
  });

  it("passes `carechain audit verify` on the untouched log", async () => {
    const r = await verifyCli();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, node: node.context.key.account.address });
  });

  it("makes `carechain audit verify` fail naming an edited entry", async () => {
    const { db } = node.context.store;
    const row = await db
      .selectFrom("audit_entries")
      .selectAll()
      .where("idx", "=", read.index)
      .executeTakeFirstOrThrow();
    const edited = row.entry.replace(gp.address, stranger.address);
    expect(edited).not.toBe(row.entry);
    const anchoredSizes = (await node.services.audit.treeHeads({ status: "anchored" })).map(
      (h) => h.treeSize,
    );
    await db.updateTable("audit_entries").set({ entry: edited }).where("idx", "=", read.index).execute();
    try {
      const r = await verifyCli();
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `carechain: audit log diverges at entry ${read.index}: entry ${read.index} does not match its stored leaf hash\n`,
      );
      // editing the stored heads too cannot hide it: the roots come from the ledger
      await db.updateTable("audit_tree_heads").set({ status: "signed" }).execute();
      expect((await verifyCli()).code).toBe(1);
    } finally {
      await db.updateTable("audit_entries").set({ entry: row.entry }).where("idx", "=", read.index).execute();
      await db
        .updateTable("audit_tree_heads")
        .set({ status: "anchored" })
        .where("tree_size", "in", anchoredSizes)
        .execute();
    }
    expect((await verifyCli()).code).toBe(0);
  });

  it("detects a deleted and a reordered entry", async () => {
    const { db } = node.context.store;
    const log = node.services.audit;
    const anchors = (await anchorsOnChain()).map((a) => ({ treeSize: a.treeSize, rootHash: a.rootHash }));
    expect(await log.verifyAll(anchors)).toEqual({ ok: true });

    const gone = await db
      .selectFrom("audit_entries")
      .selectAll()
      .where("idx", "=", denied.index)
      .executeTakeFirstOrThrow();
    await db.deleteFrom("audit_entries").where("idx", "=", denied.index).execute();
    try {
      expect(await log.verifyAll(anchors)).toEqual({
        ok: false,
        firstBadIndex: denied.index,
        reason: `entry ${denied.index} is missing`,
      });
    } finally {
      await db.insertInto("audit_entries").values(gone).execute();
    }

    const a = read.index;
    const [first, second] = await db
      .selectFrom("audit_entries")
      .selectAll()
      .where("idx", "in", [a, a + 1])
      .orderBy("idx")
      .execute();
    const swap = async (x: typeof first, y: typeof first) => {
      await db
        .updateTable("audit_entries")
        .set({ entry: y!.entry, leaf_hash: y!.leaf_hash, patient: y!.patient })
        .where("idx", "=", x!.idx)
        .execute();
    };
    await swap(first, second);
    await swap(second, first);
    // Moved with their leaf hashes, the two are found by the level-1 subtree holding entry a.
    const pair = a - (a % 2);
    try {
      expect(await log.verifyAll(anchors)).toEqual({
        ok: false,
        firstBadIndex: pair,
        reason: `entries ${pair}..${pair + 1} do not match the subtree stored at level 1`,
      });
      expect((await verifyCli()).stderr).toMatch(
        new RegExp(`^carechain: audit log diverges at entry ${pair}: entries ${pair}\\.\\.${pair + 1} `),
      );
    } finally {
      await swap(first, first);
      await swap(second, second);
    }
    expect(await log.verifyAll(anchors)).toEqual({ ok: true });
  });
});
