import { sql, type Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { engines, storeBefore } from "../../test/support/stores.js";
import type { AuditEntry } from "./auditEntry.js";
import { AuditLog } from "./auditLog.js";
import { canonicalText } from "./canonicalText.js";
import { lastLeafOf } from "./auditStore.js";
import { verifyInclusion } from "./inclusionProof.js";
import { nodeHash } from "./merkleHash.js";
import { merkleRoot } from "./merkleRoot.js";
import { textLeafHash } from "./serverHash.js";

const ACTOR = "0x00000000000000000000000000000000000000a1";

function entry(i: number): AuditEntry {
  return {
    v: 1,
    time: "2026-01-01T00:00:00.000Z",
    requestId: `r-${i}`,
    actor: { account: ACTOR },
    action: "read",
    decision: "permit",
  };
}

/** Every complete subtree of a log of `leaves`, level by level: what the old layouts stored. */
function allSubtrees(leaves: Uint8Array[]): Array<{ level: number; idx: number; hash: Buffer }> {
  const out: Array<{ level: number; idx: number; hash: Buffer }> = [];
  let level: Buffer[] = leaves.map((h) => Buffer.from(h));
  for (let l = 0; level.length > 0; l++) {
    level.forEach((hash, idx) => out.push({ level: l, idx, hash }));
    const up: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) up.push(Buffer.from(nodeHash(level[i]!, level[i + 1]!)));
    level = up;
  }
  return out;
}

/** Roots and inclusion proofs of every size match an independent computation over `leaves`. */
async function expectTree(log: AuditLog, leaves: Uint8Array[], sizes: number[]): Promise<void> {
  for (const size of sizes) {
    const root = merkleRoot(leaves.slice(0, size));
    expect(Buffer.from(await log.root(size))).toEqual(Buffer.from(root));
    for (const index of [0, size >> 1, size - 1]) {
      const proof = await log.inclusionProof(index, size);
      expect(verifyInclusion(leaves[index]!, index, size, proof, root)).toBe(true);
    }
  }
}

/** Entry rows as layouts before 009 stored them (no `subtrees`); returns their leaf hashes. */
async function oldEntries(db: Kysely<unknown>, size: number): Promise<Uint8Array[]> {
  const texts = Array.from({ length: size }, (_, i) => canonicalText(entry(i)));
  const leaves = texts.map((t) => textLeafHash(t));
  for (let i = 0; i < size; i += 500) {
    const rows = texts
      .slice(i, i + 500)
      .map((t, k) => sql`(${i + k}, ${t}, ${leaves[i + k]!}, ${null}, ${0})`);
    await sql`insert into audit_entries (idx, entry, leaf_hash, patient, created_at) values ${sql.join(rows)}`.execute(
      db,
    );
  }
  return leaves;
}

async function tableGone(db: Kysely<unknown>, dialect: string, name: string): Promise<boolean> {
  const query =
    dialect === "sqlite"
      ? sql`select name from sqlite_master where type = 'table' and name = ${name}`
      : sql`select tablename from pg_tables where tablename = ${name}`;
  return (await query.execute(db)).rows.length === 0;
}

describe("subtree placement", () => {
  it("stores each subtree in the row of the leaf whose append completes it", () => {
    // Appending leaf i completes the subtrees whose last leaf is i: levels 1..tz(i + 1).
    const edge: number[] = [];
    for (let leaf = 0; leaf < 256; leaf++) {
      let level = 0;
      while (edge.at(-1) === level) {
        edge.pop();
        level++;
        expect(lastLeafOf(level, (leaf + 1) / 2 ** level - 1)).toBe(leaf);
      }
      edge.push(level);
    }
    expect(lastLeafOf(0, 41)).toBe(41);
    expect(lastLeafOf(3, 2)).toBe(23);
  });
});

describe.each(engines)("audit layout migrations on %s", (engine) => {
  it("008 then 009: a log stored by (level, index) keeps its roots and proofs, appends continue", async () => {
    const { store, rest, dispose } = await storeBefore(engine, "008_audit_tree_layout");
    try {
      const db = store.db as unknown as Kysely<unknown>;
      const leaves = await oldEntries(db, 11);
      for (const row of allSubtrees(leaves)) {
        await sql`insert into audit_nodes (level, idx, hash) values (${row.level}, ${row.idx}, ${row.hash})`.execute(
          db,
        );
      }
      await rest();
      expect(await tableGone(db, store.dialect, "audit_nodes")).toBe(true);
      expect(await tableGone(db, store.dialect, "audit_tree")).toBe(true);
      const log = await AuditLog.open(store, { patientIndexDelayMs: 60_000 });
      expect(log.size()).toBe(11);
      await expectTree(log, leaves, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(await log.append([entry(11)])).toEqual({ firstIndex: 11, size: 12 });
      await expectTree(log, [...leaves, (await log.entry(11))!.leafHash], [12]);
      expect(await log.verifyAll([])).toEqual({ ok: true });
      await log.stopBackground();
    } finally {
      await dispose();
    }
  });

  it("009: moves subtree rows into their entries, across copy steps; roots, proofs and verify hold", async () => {
    const { store, rest, dispose } = await storeBefore(engine, "009_audit_subtrees_in_entries");
    try {
      const db = store.db as unknown as Kysely<unknown>;
      // More than one copy step (10,000 subtree rows above level 0).
      const size = 10_050;
      const leaves = await oldEntries(db, size);
      const nodes = allSubtrees(leaves).map((n) => ({
        pos: lastLeafOf(n.level, n.idx) * 64 + n.level,
        hash: n.hash,
      }));
      expect(nodes.filter((n) => n.pos % 64 > 0).length).toBeGreaterThan(10_000);
      for (let i = 0; i < nodes.length; i += 1000) {
        const rows = nodes.slice(i, i + 1000).map((n) => sql`(${n.pos}, ${n.hash})`);
        await sql`insert into audit_tree (pos, hash) values ${sql.join(rows)}`.execute(db);
      }
      await rest();
      expect(await tableGone(db, store.dialect, "audit_tree")).toBe(true);

      const log = await AuditLog.open(store, { patientIndexDelayMs: 60_000 });
      expect(log.size()).toBe(size);
      await expectTree(log, leaves, [1, 2, 7, 8, 4095, 4096, 8191, 8192, 9999, size]);
      expect(await log.verifyAll([{ treeSize: size, rootHash: merkleRoot(leaves) }])).toEqual({ ok: true });
      // appends after the migration extend the same tree
      expect(await log.append([entry(size)])).toEqual({ firstIndex: size, size: size + 1 });
      const all = [...leaves, (await log.entry(size))!.leafHash];
      await expectTree(log, all, [size + 1]);
      expect(await log.verifyAll([])).toEqual({ ok: true });
      await log.stopBackground();
    } finally {
      await dispose();
    }
  });
});
