/**
 * Rebuilding the audit log's patient map (docs/audit-completeness.md) from the stored entries'
 * patient column: at start, and for a size whose version is no longer kept.
 */
import type { Store } from "../store/database.js";
import { PatientMap } from "./patientMap.js";
import { latestTreeHead, listTreeHeads } from "./treeHeadStore.js";

/** Rows per read when the patient map is rebuilt. */
const MAP_PAGE = 50_000;

/**
 * Applies the entries about patients in `[from, to)` to `map`, keeping a version at each size in
 * `versions` (ascending) that the range reaches. Reads the `patient` column; a tampered column
 * yields map roots that differ from the anchored ones, which the start-up check reports.
 */
export async function replayPatients(
  store: Store,
  map: PatientMap,
  from: number,
  to: number,
  versions: number[] = [],
): Promise<void> {
  let v = 0;
  for (let start = from; start < to; start += MAP_PAGE) {
    const end = Math.min(to, start + MAP_PAGE);
    const rows = await store.db
      .selectFrom("audit_entries")
      .select(["idx", "patient"])
      .where("idx", ">=", start)
      .where("idx", "<", end)
      .where("patient", "is not", null)
      .orderBy("idx", "asc")
      .execute();
    for (const row of rows) {
      const idx = Number(row.idx);
      for (; v < versions.length && (versions[v] as number) <= idx; v++) map.commit(versions[v] as number);
      map.record(row.patient as string, idx);
    }
  }
  for (; v < versions.length && (versions[v] as number) <= to; v++) map.commit(versions[v] as number);
}

/**
 * Rebuilds the patient map from the stored log, with a version at the latest anchored head's size
 * and at every head signed after it (the sizes proofs may be asked for).
 */
export async function loadPatientMap(store: Store, chainsFrom: number, size: number): Promise<PatientMap> {
  const map = new PatientMap();
  const anchored = await latestTreeHead(store.db, "anchored");
  const heads = await listTreeHeads(store.db, { afterSize: (anchored?.treeSize ?? 1) - 1 });
  const versions = heads.map((h) => h.treeSize).filter((s) => s <= size);
  const early = versions.filter((s) => s <= chainsFrom);
  for (const s of early) map.commit(s);
  await replayPatients(
    store,
    map,
    Math.min(chainsFrom, size),
    size,
    versions.filter((s) => s > chainsFrom),
  );
  return map;
}
