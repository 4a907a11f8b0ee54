import { describe, expect, it } from "vitest";
import type { AuditEntry } from "./auditEntry.js";
import { canonicalText } from "./canonicalText.js";
import { BatchPacker, batchRows, firstText } from "./entryBatch.js";
import { pushLeaf, textLeafHash, type EdgeNode } from "./serverHash.js";

const ACTOR = "0x00000000000000000000000000000000000000c1";
const patient = (p: number) => `0x${(0xa000 + p).toString(16).padStart(40, "0")}`;

/** Entry `i`: some about nobody, some with non-ASCII or surrogate reasons, some with a thousand resources. */
function entry(i: number): AuditEntry {
  return {
    v: 1,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
    requestId: `r-${i}`,
    actor: { account: ACTOR, organization: "org-1", role: "physician" },
    ...(i % 5 === 0 ? {} : { patient: patient(i % 3) }),
    action: "read",
    resources:
      i % 11 === 3
        ? Array.from({ length: 1000 }, (_, k) => `Observation/${i}-${k}-${"x".repeat(40)}`)
        : [`Observation/o${i}`],
    categories: ["labs"],
    purpose: "TREAT",
    decision: "permit",
    ...(i % 4 === 1 ? { reason: i % 8 === 1 ? 'é ✓ 𝄞 \u0000 "q"' : "commité" } : {}),
  };
}

describe("a packed audit batch", () => {
  it("opens into the rows, openings and right edge of its entries, across chunks", () => {
    const firstIndex = 37;
    const entries = Array.from({ length: 60 }, (_, i) => entry(i));
    const packer = new BatchPacker(firstIndex, 1234, entries.length);
    const texts: string[] = [];
    const openings: Array<{ idx: number; salt: string; facts: string }> = [];
    entries.forEach((e, i) => {
      const idx = firstIndex + i;
      const prev = e.patient === undefined ? undefined : i;
      const commitment = i % 3 === 0 ? null : i.toString(16).padStart(64, "0");
      if (commitment !== null) {
        const opening = { idx, salt: idx.toString(16).padStart(32, "0"), facts: `{"reason":"f ${i} é"}` };
        openings.push(opening);
        packer.opening(opening);
      }
      packer.entry(e, prev, commitment, e.patient ?? null);
      texts.push(canonicalText(e, prev, commitment));
    });
    const batch = packer.finish();
    // Long texts are there, so the texts were cut into several chunks.
    expect(batch.texts.length).toBeGreaterThan(3);
    expect(firstText(batch)).toBe(texts[0]);

    const before: EdgeNode[] = [];
    for (let i = 0; i < firstIndex; i++) pushLeaf(before, i, textLeafHash(`earlier ${i}`));
    const handedIn = before.map((n) => ({ ...n }));
    const opened = batchRows(batch, before);
    expect(opened.rows.map((r) => r.entry)).toEqual(texts);
    expect(opened.rows.map((r) => r.idx)).toEqual(texts.map((_, i) => firstIndex + i));
    expect(opened.rows.map((r) => r.patient)).toEqual(entries.map((e) => e.patient ?? null));
    expect(opened.rows.every((r) => r.created_at === 1234)).toBe(true);
    expect(opened.openings).toEqual(openings);

    const edge = before.slice();
    texts.forEach((text, i) => {
      const leaf = textLeafHash(text);
      expect(Buffer.from(opened.rows[i]!.leaf_hash).equals(leaf)).toBe(true);
      const completed = pushLeaf(edge, firstIndex + i, leaf);
      const subtrees = opened.rows[i]!.subtrees;
      expect(subtrees === null ? null : Buffer.from(subtrees).toString("hex")).toBe(
        completed.length === 0 ? null : Buffer.concat(completed).toString("hex"),
      );
    });
    expect(opened.frontier).toEqual(edge);
    // The edge handed in is left as it was.
    expect(before).toEqual(handedIn);
  });

  it("packs an empty batch and refuses one with entries missing", () => {
    const empty = new BatchPacker(5, 0, 0).finish();
    expect(batchRows(empty, []).rows).toEqual([]);
    expect(firstText(empty)).toBe("");
    const short = new BatchPacker(0, 0, 2);
    short.entry(entry(1), undefined, null, null);
    expect(() => short.finish()).toThrow(/missing/);
  });
});
