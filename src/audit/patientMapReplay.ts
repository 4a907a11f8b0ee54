/**
 * Loading the audit log's patient map (docs/audit-completeness.md) at start: the persisted rows
 * (src/store/auditRows.ts) plus a replay of the stored entries' patient column since the
 * persisted size, so a start reads one row per patient and the entries since the last anchor, not
 * the whole log. Also rebuilding the map for a size whose version is no longer kept.
 */
import { readPatientMap } from "../store/auditRows.js";
import type { Store } from "../store/database.js";
import { LivePatientMap, type LivePatientMapOptions } from "./patientMapLive.js";
import { latestTreeHead, listTreeHeads } from "./treeHeadStore.js";

/** Rows per read when the patient map is replayed. */
const MAP_PAGE = 50_000;

/**
 * Applies the entries about patients in `[from, to)` to `map` (an entry the map already counts is
 * skipped), keeping a version at each size in `versions` (ascending) that the range reaches. Reads
 * the `patient` column; a tampered column yields map roots that differ from the anchored ones,
 * which the start-up check reports.
 */
export async function replayPatients(
  store: Store,
  map: { record(patient: string, index: number): void; commit(size: number): unknown },
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

/** The patient map at start, and the size its persisted rows describe. */
export interface LoadedPatientMap {
  map: LivePatientMap;
  /** The persisted size, when the map keeps the version at it (the base of the next persist). */
  persistedSize: number | undefined;
}

/**
 * Loads the patient map: the persisted rows, then the entries since the persisted size, with a
 * version at the latest anchored head's size and at every head signed after it (the sizes proofs
 * may be asked for). A version is built only where the rows are known to be exact: above every
 * row's last entry (rows written by an interrupted persist may already count later entries).
 */
export async function loadPatientMap(
  store: Store,
  chainsFrom: number,
  size: number,
  options: LivePatientMapOptions = {},
): Promise<LoadedPatientMap> {
  const map = new LivePatientMap(options);
  const persisted = await readPatientMap(store.db);
  let maxLast = -1;
  map.restore(
    persisted.rows.map((r) => {
      if (r.last_idx > maxLast) maxLast = r.last_idx;
      return { patient: r.patient, last: r.last_idx, count: r.entry_count };
    }),
  );
  const from = Math.min(Math.max(persisted.size, chainsFrom), size);
  const anchored = await latestTreeHead(store.db, "anchored");
  const heads = await listTreeHeads(store.db, { afterSize: (anchored?.treeSize ?? 1) - 1 });
  const versions = [...new Set([from, ...heads.map((h) => h.treeSize)])]
    .filter((s) => s <= size && s > maxLast)
    .sort((a, b) => a - b);
  await replayPatients(store, map, from, size, versions);
  await map.settled();
  return { map, persistedSize: versions.includes(from) && from === persisted.size ? from : undefined };
}
