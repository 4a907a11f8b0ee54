/**
 * The operator's full check of the completeness commitment (docs/audit-completeness.md):
 * recomputes every patient's `prev` chain and the patient map from the stored entry texts alone,
 * and checks against them the stored `patient` column (what the index and the map are built
 * from), the persisted patient map (`audit_patient_map`), the map root of every anchored head (read
 * from the ledger by the caller) and of every head the node stored. Database access needed: this
 * is the check a patient cannot make, for entries the node wrote wrongly or hid from the map.
 */
import type { Hex } from "viem";
import { readPatientMap } from "../store/auditRows.js";
import type { Store } from "../store/database.js";
import { patientKey } from "./auditEntry.js";
import { PatientMap } from "./patientMap.js";
import { listTreeHeads } from "./treeHeadStore.js";
import type { VerifyResult } from "./verifyLog.js";

/** A map root the node committed to, at a tree size. */
export interface MapCommitment {
  treeSize: number;
  mapRoot: Hex;
  /** Where the root comes from, for the report ("anchored" from the ledger, or "stored"). */
  source: "anchored" | "stored";
}

const PAGE = 4096;

/**
 * Recomputes the patient chains and map of the first `size` entries and checks every stored and
 * anchored form of them.
 * @param store - the node's store
 * @param size - the log size to check up to
 * @param chainsFrom - the first index whose entries carry `prev` (meta `audit.patient_chains.from`)
 * @param anchored - map roots anchored on the ledger, by tree size
 * @returns ok, or the first problem found (with the entry index when one entry is at fault)
 */
export async function verifyPatientChains(
  store: Store,
  size: number,
  chainsFrom: number,
  anchored: ReadonlyArray<{ treeSize: number; mapRoot: Hex }>,
): Promise<VerifyResult> {
  const stored = (await listTreeHeads(store.db, {})).map((h): MapCommitment => ({
    treeSize: h.treeSize,
    mapRoot: h.mapRoot,
    source: "stored",
  }));
  const commitments = [...anchored.map((a): MapCommitment => ({ ...a, source: "anchored" })), ...stored]
    .filter((c) => c.treeSize >= chainsFrom && c.treeSize <= size)
    .sort((a, b) => a.treeSize - b.treeSize);
  const persisted = await readPatientMap(store.db);
  const rows = new Map(persisted.rows.map((r) => [r.patient, r]));
  /** Rows found equal to a state the patient's chain went through. */
  const rowsSeen = new Set<string>();
  const map = new PatientMap();
  let next = 0;
  const check = (at: number): VerifyResult | undefined => {
    for (let c = commitments[next]; c !== undefined && c.treeSize === at; c = commitments[++next]) {
      const root = map.rootAt(at) ?? map.commit(at);
      if (root !== c.mapRoot.toLowerCase()) {
        return {
          ok: false,
          reason: `patient map root at tree size ${at} differs from the ${c.source} one: the map or a patient column was altered`,
        };
      }
      map.anchored(at);
    }
    if (at === persisted.size) {
      for (const [patient, value] of map.entries()) {
        if (rowsSeen.has(patient)) continue;
        const row = rows.get(patient);
        if (row === undefined || row.last_idx < value.last) {
          return {
            ok: false,
            firstBadIndex: value.last,
            reason: `the persisted patient map misses entry ${value.last} of a patient (tree size ${at})`,
          };
        }
      }
    }
    return undefined;
  };
  for (let start = chainsFrom; start < size || start === chainsFrom; start += PAGE) {
    const end = Math.min(start + PAGE, size);
    const entries = await store.db
      .selectFrom("audit_entries")
      .select(["idx", "entry", "patient"])
      .where("idx", ">=", start)
      .where("idx", "<", end)
      .orderBy("idx", "asc")
      .execute();
    if (entries.length !== end - start)
      return { ok: false, firstBadIndex: start, reason: `entries ${start}..${end - 1} are not all stored` };
    for (const row of entries) {
      const idx = Number(row.idx);
      const bad = check(idx);
      if (bad !== undefined) return bad;
      let text: { patient?: unknown; prev?: unknown };
      try {
        text = JSON.parse(row.entry) as typeof text;
      } catch {
        return { ok: false, firstBadIndex: idx, reason: `entry ${idx} is not JSON` };
      }
      const patient = typeof text.patient === "string" ? patientKey(text.patient) : null;
      if (row.patient !== patient)
        return {
          ok: false,
          firstBadIndex: idx,
          reason: `entry ${idx}: the stored patient column differs from the entry's patient`,
        };
      if (patient === null) {
        if (text.prev !== undefined)
          return { ok: false, firstBadIndex: idx, reason: `entry ${idx} links a chain without a patient` };
        continue;
      }
      const expected = map.get(patient)?.last;
      if (text.prev !== expected)
        return {
          ok: false,
          firstBadIndex: idx,
          reason: `entry ${idx}: prev ${String(text.prev ?? "(none)")} but the patient's previous entry is ${expected ?? "(none)"}`,
        };
      map.record(patient, idx);
      const persistedRow = rows.get(patient);
      if (persistedRow !== undefined && persistedRow.last_idx === idx) {
        if (persistedRow.entry_count !== map.get(patient)?.count)
          return {
            ok: false,
            firstBadIndex: idx,
            reason: `the persisted patient map counts ${persistedRow.entry_count} entries up to entry ${idx}; the log has ${map.get(patient)?.count}`,
          };
        rowsSeen.add(patient);
      }
    }
    if (end >= size) break;
  }
  const bad = check(size);
  if (bad !== undefined) return bad;
  for (const row of rows.values()) {
    if (!rowsSeen.has(row.patient))
      return {
        ok: false,
        firstBadIndex: row.last_idx,
        reason: `the persisted patient map says entry ${row.last_idx} is a patient's last (entry number ${row.entry_count}), which the log does not`,
      };
  }
  if (persisted.size > size)
    return {
      ok: false,
      reason: `the persisted patient map describes size ${persisted.size}, beyond the log`,
    };
  return { ok: true };
}
