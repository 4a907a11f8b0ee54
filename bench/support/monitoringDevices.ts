/**
 * The monitoring bench's home kits on a thread of their own (bench/monitoring.ts): the simulator
 * (src/monitoring/simulator.ts) signs each batch and serializes it to the JSON text a device would
 * post, so the node's thread does only the node's work (parsing that text onwards). Batches are
 * made on demand, a few hundred ahead of the node, each signed with the device clock at the time
 * it is made. Messages in: `attach` (device ids, in patient order), `want` (how many more),
 * `deteriorate`/`recover` (a patient). Messages out: `keys` once (public keys, in patient order,
 * and the thread's Linux thread id),
 * then `batches` (`[patient, body]` pairs, patients round-robin).
 */
import { readlinkSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { DeviceSimulator } from "../../src/monitoring/simulator.js";

export interface DevicesWorkerData {
  patients: number;
  seed: number;
  /** Sets of 9 vitals per batch, `intervalMs` apart. */
  samples: number;
  intervalMs: number;
}

export type DevicesIn =
  | { type: "attach"; deviceIds: string[] }
  | { type: "want"; count: number }
  | { type: "deteriorate" | "recover"; patient: number };

export type DevicesOut =
  | { type: "keys"; publicJwks: object[]; tid: number | undefined }
  | { type: "batches"; patients: number[]; bodies: string[] };

const port = parentPort!;
const data = workerData as DevicesWorkerData;
const sim = new DeviceSimulator({ seed: data.seed });
port.postMessage({
  type: "keys",
  publicJwks: Array.from({ length: data.patients }, (_, i) => sim.keyOf(i).publicJwk),
  tid: threadId(),
} satisfies DevicesOut);

/** This thread's Linux thread id (so the bench can read its CPU time), if there is one. */
function threadId(): number | undefined {
  try {
    return Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return undefined;
  }
}

let next = 0;
port.on("message", (m: DevicesIn) => {
  switch (m.type) {
    case "attach":
      m.deviceIds.forEach((id, i) => sim.attach(i, id));
      return;
    case "deteriorate":
      sim.deteriorate(m.patient);
      return;
    case "recover":
      sim.recover(m.patient);
      return;
    case "want": {
      const patients: number[] = [];
      const bodies: string[] = [];
      for (let k = 0; k < m.count; k++) {
        const i = next++ % data.patients;
        patients.push(i);
        bodies.push(JSON.stringify(sim.nextBatch(i, Date.now(), data.samples, data.intervalMs)));
      }
      port.postMessage({ type: "batches", patients, bodies } satisfies DevicesOut);
    }
  }
});
