import { sql, type Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { engines, storeBefore } from "../../test/support/stores.js";
import { AuditLog } from "./auditLog.js";
import { nodeAt, nodePosition } from "./auditStore.js";
import { verifyInclusion } from "./inclusionProof.js";
import { leafHash, nodeHash } from "./merkleHash.js";
import { merkleRoot } from "./merkleRoot.js";

describe("audit tree positions", () => {
  it("number subtrees in the order appends complete them, and invert", () => {
    // Appending leaves 0..7 completes, in order: (0,0) (0,1) (1,0) (0,2) (0,3) (1,1) (2,0) ...
    const order: Array<[number, number]> = [];
    const edge: number[] = [];
    for (let leaf = 0; leaf < 64; leaf++) {
      let level = 0;
      order.push([0, leaf]);
      while (edge.at(-1) === level) {
        edge.pop();
        level++;
        order.push([level, (leaf + 1) / 2 ** level - 1]);
      }
      edge.push(level);
    }
    const positions = order.map(([level, index]) => nodePosition(level, index));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    for (const [level, index] of order) expect(nodeAt(nodePosition(level, index))).toEqual({ level, index });
  });
});

describe.each(engines)("migration 008 on %s", (engine) => {
  it("moves a log stored by (level, index) to positions: same roots and proofs, appends continue", async () => {
    const { store, rest, dispose } = await storeBefore(engine, "008_audit_tree_layout");
    try {
      const db = store.db as unknown as Kysely<unknown>;
      // An 11-leaf log as the old layout stored it: every complete subtree by (level, idx).
      const leaves = Array.from({ length: 11 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
      const old: Array<{ level: number; idx: number; hash: Buffer }> = [];
      let level: Buffer[] = leaves.map((h) => Buffer.from(h));
      for (let l = 0; level.length > 0; l++) {
        level.forEach((hash, idx) => old.push({ level: l, idx, hash }));
        const up: Buffer[] = [];
        for (let i = 0; i + 1 < level.length; i += 2)
          up.push(Buffer.from(nodeHash(level[i]!, level[i + 1]!)));
        level = up;
      }
      for (const row of old) {
        await sql`insert into audit_nodes (level, idx, hash) values (${row.level}, ${row.idx}, ${row.hash})`.execute(
          db,
        );
      }
      await rest();
      const tables =
        store.dialect === "sqlite"
          ? sql`select name from sqlite_master where type = 'table' and name = 'audit_nodes'`
          : sql`select tablename from pg_tables where tablename = 'audit_nodes'`;
      expect((await tables.execute(db)).rows).toEqual([]);

      const log = await AuditLog.open(store, { patientIndexDelayMs: 60_000 });
      expect(log.size()).toBe(11);
      for (let size = 1; size <= 11; size++) {
        const root = merkleRoot(leaves.slice(0, size));
        expect(Buffer.from(await log.root(size))).toEqual(Buffer.from(root));
        for (let index = 0; index < size; index++) {
          expect(
            verifyInclusion(leaves[index]!, index, size, await log.inclusionProof(index, size), root),
          ).toBe(true);
        }
      }
      // appends after the migration extend the same tree
      const first = await log.append([
        {
          v: 1,
          time: "2026-01-01T00:00:00.000Z",
          requestId: "r-12",
          actor: { account: "0x00000000000000000000000000000000000000a1" },
          action: "read",
          decision: "permit",
        },
      ]);
      expect(first).toEqual({ firstIndex: 11, size: 12 });
      const stored = await log.entry(11);
      const all = [...leaves, stored!.leafHash];
      expect(Buffer.from(await log.root())).toEqual(Buffer.from(merkleRoot(all)));
      log.stopBackground();
    } finally {
      await dispose();
    }
  });
});
