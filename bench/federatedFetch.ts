/**
 * Cross-node consented fetch between two node PROCESSES on loopback (one anvil, SQLite each):
 * A (lab) holds a synthetic patient's labs; the patient grants a GP at B. Measures, in one run:
 * (1) a local `$everything` at A by A's own lab technician (session token), (2) A's
 * `/federation/fetch` called directly with B's node signature and the GP's AccessRequest (one
 * hop, both signatures verified, consent + audit at A), (3) B's `/federation/everything`
 * (locate, B's local part, the hop to A, merge). Latency p50/p99 sequentially, throughput with
 * 8 concurrent callers. Signing happens before the clock starts. Run: `npx tsx bench/federatedFetch.ts`.
 */
import { encodeAccessRequestHeader, signNodeRequest } from "../src/federation/nodeAuth.js";
import { isLab } from "../src/federation/splitBundle.js";
import { startTwoNodes } from "./support/twoNodes.js";
import {
  isMain,
  latencySummary,
  load,
  machine,
  round,
  runAsScript,
  type BenchOptions,
} from "./support/report.js";

const CONCURRENCY = 8;

/** Times `count` calls of `call(i)` one after another, then `count` calls with 8 in flight. */
async function measure(count: number, call: (i: number) => Promise<Response>): Promise<object> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const res = await call(i);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    samples.push(performance.now() - t);
  }
  let next = count;
  const end = count * 2;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < end) {
        const res = await call(next++);
        await res.arrayBuffer();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    latencyMs: latencySummary(samples),
    throughputPerSecond: round(count / seconds, 1),
    concurrency: CONCURRENCY,
  };
}

/** Runs the benchmark and returns its JSON report. */
export async function runFederatedFetchBench(options: BenchOptions): Promise<object> {
  const count = options.quick ? 30 : 300;
  const nodes = await startTwoNodes((r) => (isLab(r) ? "A" : "skip"), ["labs", "demographics"]);
  const { A, B, techToken, patientId, presign, patient } = nodes;
  try {
    const direct = await presign(count * 2);
    const directBodies = direct.map((s) => JSON.stringify(s));
    const directHeaders = await Promise.all(
      directBodies.map((body) =>
        signNodeRequest(B.account, { method: "POST", path: "/federation/fetch", body }),
      ),
    );
    const viaB = (await presign(count * 2)).map(encodeAccessRequestHeader);

    const local = await measure(count, () =>
      fetch(`${A.url}/fhir/Patient/${patientId}/$everything`, {
        headers: { authorization: `Bearer ${techToken}` },
      }),
    );
    const hop = await measure(count, (i) =>
      fetch(`${A.url}/federation/fetch`, {
        method: "POST",
        headers: { ...directHeaders[i]!, "content-type": "application/json" },
        body: directBodies[i]!,
      }),
    );
    const federated = await measure(count, (i) =>
      fetch(`${B.url}/federation/everything?patient=${patient.address}`, {
        headers: { "x-carechain-access-request": viaB[i]! },
      }),
    );
    return {
      bench: "federatedFetch",
      machine: machine(),
      resourcesPerResponse: nodes.held.A,
      localEverythingAtA: local,
      nodeToNodeFetchBtoA: hop,
      federatedEverythingViaB: federated,
      note: "two node processes + anvil on loopback, SQLite; audit entries written for every request",
      loadAverage1m: load(),
    };
  } finally {
    await nodes.stop();
  }
}

if (isMain(import.meta.url)) await runAsScript(runFederatedFetchBench);
