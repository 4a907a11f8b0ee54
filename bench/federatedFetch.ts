/**
 * Cross-node consented fetch between two node PROCESSES on loopback (one anvil, SQLite each):
 * A (lab) holds a synthetic patient's labs; the patient grants a GP at B. Measures, in one run:
 * (1) a local `$everything` at A by A's own lab technician (session token), (2) A's
 * `/federation/fetch` called directly with B's node signature and the GP's AccessRequest (one
 * hop, both signatures verified, consent + audit at A), (3) B's `/federation/everything`
 * (locate, B's local part, the hop to A, merge). Latency p50/p99 sequentially, throughput with
 * 8 concurrent callers. Signing happens before the clock starts. Run: `npx tsx bench/federatedFetch.ts`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { siweSignIn } from "../src/access/siweClient.js";
import { startAnvil } from "../src/chain/anvil.js";
import { freePort } from "../src/chain/freePort.js";
import { categoryMask, purposeBit } from "../src/model/vocabulary.js";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../src/consent/signConsent.js";
import {
  contractsOfNode,
  prepareNodeKey,
  registerAsGovernor,
  spawnNode,
  waitForIndexers,
  type NodeProcess,
} from "../src/federation/consortium.js";
import {
  encodeAccessRequestHeader,
  newNonce,
  signAccessRequest,
  signNodeRequest,
  type SignedAccessRequest,
} from "../src/federation/nodeAuth.js";
import { isLab, splitBundle } from "../src/federation/splitBundle.js";
import type { FhirResource } from "../src/records/fhirTypes.js";
import {
  isMain,
  latencySummary,
  load,
  machine,
  round,
  runAsScript,
  type BenchOptions,
} from "./support/report.js";

const PASSWORD = "bench-password-only";
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
  const root = mkdtempSync(join(tmpdir(), "carechain-bench-fed-"));
  const anvil = await startAnvil();
  const nodes: NodeProcess[] = [];
  try {
    const [keyA, keyB] = await Promise.all([
      prepareNodeKey(join(root, "a"), PASSWORD),
      prepareNodeKey(join(root, "b"), PASSWORD),
    ]);
    const A = await spawnNode(
      { name: "Bench Lab", kind: "lab", dataDir: join(root, "a"), port: await freePort() },
      { rpcUrl: anvil.rpcUrl, account: keyA, keyPassword: PASSWORD },
    );
    nodes.push(A);
    const B = await spawnNode(
      { name: "Bench GP", kind: "clinic", dataDir: join(root, "b"), port: await freePort() },
      { rpcUrl: anvil.rpcUrl, account: keyB, keyPassword: PASSWORD, contracts: await contractsOfNode(A.url) },
    );
    nodes.push(B);
    const tech = privateKeyToAccount(generatePrivateKey());
    const gp = privateKeyToAccount(generatePrivateKey());
    const patient = privateKeyToAccount(generatePrivateKey());
    const block = await registerAsGovernor(A.spec.dataDir, {
      organizations: [{ node: B }],
      practitioners: [
        { organization: A.organizationId, account: tech.address, role: "lab-technician" },
        { organization: B.organizationId, account: gp.address, role: "physician" },
      ],
      patients: [],
    });
    await waitForIndexers([A.url, B.url], block);

    const dir = join(import.meta.dirname, "..", "test", "fixtures", "synthea");
    const file = readdirSync(dir).find((f) => f.endsWith(".json"))!;
    const part = splitBundle(JSON.parse(readFileSync(join(dir, file), "utf8")) as FhirResource, (r) =>
      isLab(r) ? "lab" : "other",
    ).get("lab")!;
    const techToken = (await siweSignIn(A.url, tech)).token;
    const imported = await fetch(`${A.url}/fhir`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${techToken}`,
        "content-type": "application/json",
        "x-patient-account": patient.address,
      },
      body: JSON.stringify(part),
    });
    if (!imported.ok) throw new Error(`import failed: HTTP ${imported.status}`);
    const patientId = ((part.entry as Array<{ resource: FhirResource }>)[0]!.resource.id ?? "") as string;

    const domain = (await (await fetch(`${B.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "demographics"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date(Date.now() + 86_400_000),
    });
    await fetch(`${B.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
    });
    // wait for the lab's locator (looked up as the GP: locate needs a session) and for both
    // indexers to hold the grant
    const gpToken = (await siweSignIn(B.url, gp)).token;
    for (let i = 0; i < 200; i++) {
      const located = (await (
        await fetch(`${B.url}/federation/locate?patient=${patient.address}`, {
          headers: { authorization: `Bearer ${gpToken}` },
        })
      ).json()) as { locations: unknown[] };
      if (located.locations.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const head = ((await (await fetch(`${B.url}/health`)).json()) as { chain: { blockNumber: number } }).chain
      .blockNumber;
    await waitForIndexers([A.url, B.url], head);

    const presign = async (n: number): Promise<SignedAccessRequest[]> =>
      Promise.all(
        Array.from({ length: n }, async () => {
          const request = {
            patient: patient.address,
            requester: gp.address,
            requesterOrganization: B.organizationId,
            categories: categoryMask(["labs", "demographics"]),
            purpose: purposeBit("TREAT"),
            expiry: Math.floor(Date.now() / 1000) + 3000,
            nonce: newNonce(),
          };
          return { accessRequest: request, signature: await signAccessRequest(gp, request, 31337) };
        }),
      );
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
      resourcesPerResponse: (part.entry as unknown[]).length,
      localEverythingAtA: local,
      nodeToNodeFetchBtoA: hop,
      federatedEverythingViaB: federated,
      note: "two node processes + anvil on loopback, SQLite; audit entries written for every request",
      loadAverage1m: load(),
    };
  } finally {
    for (const n of nodes) await n.stop();
    await anvil.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runAsScript(runFederatedFetchBench);
