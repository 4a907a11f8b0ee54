/**
 * The patient map's hashing thread (started by `patientMapLive.ts`): it keeps its own
 * `PatientMap`, applies each committed version's changed values in order and answers with that
 * version's root, so a busy node's main thread never rebuilds the sparse Merkle tree. Only the
 * latest version is kept here; proofs are served on the main thread.
 */
import { parentPort } from "node:worker_threads";
import { PatientMap } from "./patientMap.js";

/** One committed version's changes, as `patientMapLive.ts` posts them. */
export interface PatientMapWorkerDelta {
  size: number;
  /** Patient keys of the ids from `patientsFrom` on (ids are dense, in order of first sight). */
  patientsFrom: number;
  patients: string[];
  ids: Uint32Array;
  last: Float64Array;
  count: Float64Array;
}

/** The answer to one delta. */
export interface PatientMapWorkerRoot {
  size: number;
  root: string;
}

if (!parentPort) throw new Error("patientMapWorker runs as a worker thread");
const port = parentPort;
const map = new PatientMap();
const patients: string[] = [];

port.on("message", (d: PatientMapWorkerDelta) => {
  for (let i = 0; i < d.patients.length; i++) patients[d.patientsFrom + i] = d.patients[i] as string;
  for (let i = 0; i < d.ids.length; i++)
    map.set(patients[d.ids[i] as number] as string, d.last[i] as number, d.count[i] as number);
  const root = map.commit(d.size);
  map.dropVersionsBelow(d.size);
  port.postMessage({ size: d.size, root } satisfies PatientMapWorkerRoot);
});
port.postMessage("ready");
