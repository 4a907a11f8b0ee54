/**
 * Authorized, decrypted FHIR read over HTTP against a bare Fastify JSON route, in the same run:
 * a real node (startNode: SQLite, embedded anvil, temp dir, port 0, silent logs) where a hospital
 * practitioner imported a Synthea bundle and the patient signed a grant of labs to a GP; the GP's
 * session token then reads `GET /fhir/Observation/<lab id>` (SIWE session, consent decision,
 * envelope decryption, audit entry committed before the response) under autocannon, and the same
 * autocannon settings hit a bare Fastify app whose one route returns that Observation as JSON.
 * The load generator runs in its own process (one for the whole run). Short rounds come in pairs,
 * one of each, and the pairs alternate which goes first: a shared machine's slow stretches last
 * seconds, so many short pairs spread them over both. One more round each runs at 64 connections,
 * and a last carechain round, not counted, runs under the CPU profiler to say where its time goes.
 * Issue target: carechain >= 40% of the bare route's req/s. Reported, never asserted.
 * Run: `npx tsx bench/fhirRead.ts [--quick]`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Fastify from "fastify";
import { buildApp } from "../src/api/app.js";
import { fhirRoutes } from "../src/api/routes/fhir.js";
import { createLogger } from "../src/node/logger.js";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../src/consent/signConsent.js";
import { signIn } from "../test/support/session.js";
import { startBenchNode } from "./support/benchNode.js";
import { startCpuProfile, type CategoryRule } from "./support/cpuProfile.js";
import {
  startLoadGenerator,
  type LoadGenerator,
  type LoadOptions,
  type LoadResult,
} from "./support/loadgen.js";
import { isMain, load, round, runAsScript, type BenchOptions } from "./support/report.js";

const TARGET_RATIO = 0.4;
const WIDE_CONNECTIONS = 64;
const FIXTURES = join(import.meta.dirname, "..", "test", "fixtures", "synthea");

interface Bundle {
  entry: Array<{
    resource: { resourceType: string; id: string; category?: Array<{ coding?: Array<{ code?: string }> }> };
  }>;
}

/** Where a profile sample's time goes: the deepest frame matching a rule names it. */
const RULES: CategoryRule[] = [
  ["gc", (f) => f.functionName === "(garbage collector)"],
  ["idle", (f) => f.functionName === "(idle)"],
  ["session token: ES256K verify (node:crypto)", (f) => f.url.includes("internal/crypto/sig")],
  ["session token: claims", (f) => f.url.includes("access/sessionToken") || f.url.includes("access/")],
  [
    "decryption (AES-GCM, keys)",
    (f) => f.url.includes("internal/crypto/cipher") || f.url.includes("/src/crypto/"),
  ],
  ["database (kysely, better-sqlite3)", (f) => /kysely|better-sqlite3/.test(f.url)],
  ["audit enqueue + batched append", (f) => f.url.includes("/src/audit/")],
  ["consent decision", (f) => f.url.includes("/src/consent/")],
  ["records repository (other)", (f) => f.url.includes("/src/records/")],
  ["api routes (carechain)", (f) => f.url.includes("/src/api/")],
  [
    "fastify + node http",
    (f) => /fastify|find-my-way|avvio|pino|node:_http|node:net|node:internal\/(http|stream|net)/.test(f.url),
  ],
];

/** A load round plus this process's CPU time per request (user + system), robust to a busy machine. */
interface MeasuredLoad extends LoadResult {
  serverCpuUsPerRequest: number;
}

async function runLoad(generator: LoadGenerator, options: LoadOptions): Promise<MeasuredLoad> {
  const before = process.cpuUsage();
  const result = await generator.run(options);
  const used = process.cpuUsage(before);
  return {
    ...result,
    serverCpuUsPerRequest: round((used.user + used.system) / Math.max(1, result.requests), 1),
  };
}

function labFrom(bundle: Bundle): string {
  const lab = bundle.entry.find(
    (e) =>
      e.resource.resourceType === "Observation" &&
      e.resource.category?.[0]?.coding?.[0]?.code === "laboratory",
  );
  if (!lab) throw new Error("the fixture has no laboratory Observation");
  return lab.resource.id;
}

/**
 * Runs the comparison.
 * @param options - `quick` for 4 pairs of 2 s rounds (else 12 pairs of 3 s)
 */
export async function runFhirReadBench(options: BenchOptions = { quick: false }): Promise<object> {
  const seconds = options.quick ? 2 : 3;
  const rounds = options.quick ? 4 : 12;
  const connections = 10;
  const pipelining = 1;
  const file = readdirSync(FIXTURES).find((f) => f.startsWith("Alfreda_Wyman"))!;
  const bundle = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as Bundle;
  const labId = labFrom(bundle);

  const bench = await startBenchNode({ anchorIntervalMs: 1000 });
  const bare = Fastify({ logger: false });
  const generator = startLoadGenerator();
  const closers: Array<() => Promise<unknown>> = [() => generator.close()];
  try {
    const { node } = bench;
    const patient = privateKeyToAccount(generatePrivateKey());
    const gp = privateKeyToAccount(generatePrivateKey());
    const hospitalDoc = privateKeyToAccount(generatePrivateKey());
    const clinic = keccak256(toHex("bench-gp-clinic"));
    await bench.registerOrganization(clinic, "Bench GP", privateKeyToAccount(generatePrivateKey()).address);
    await bench.addPractitioners([
      { organization: clinic, account: gp.address, role: "physician" },
      { organization: node.context.organizationId, account: hospitalDoc.address, role: "physician" },
    ]);
    const doc = await signIn(node.url, hospitalDoc);
    const imported = await doc.send("POST", "/fhir", bundle, undefined, {
      "x-patient-account": patient.address,
    });
    if (imported.status !== 200) throw new Error(`bundle import failed: ${imported.status}`);

    const domain = (await (await fetch(`${node.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "medications"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date(Date.now() + 24 * 3600_000),
    });
    const granted = await fetch(`${node.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
    });
    if (granted.status !== 201) throw new Error(`grant failed: ${granted.status}`);

    const session = await signIn(node.url, gp);
    const path = `/fhir/Observation/${labId}`;
    const probe = await session.get(path, "TREAT");
    if (probe.status !== 200) throw new Error(`the GP cannot read the lab: ${probe.status}`);
    const body = await probe.text();
    const document = JSON.parse(body) as unknown;

    bare.get("/obs", async (_request, reply) => reply.type("application/fhir+json").send(document));
    const bareUrl = await bare.listen({ host: "127.0.0.1", port: 0 });
    // The node's app allows 6000 requests a minute per client address, and every load-generator
    // connection comes from 127.0.0.1: the measured app is the same `buildApp` (helmet, rate
    // limiter, error mapping) with the same FHIR routes over the node's own repository, with only
    // the limit raised above the load.
    const measured = await buildApp({
      logger: createLogger("silent"),
      rateLimitPerMinute: 100_000_000,
      routes: [
        fhirRoutes({
          records: node.services.records,
          nodeKey: node.context.key.privateKey,
          federation: node.services.federation,
        }),
      ],
    });
    const careUrl = await measured.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => measured.close());

    const common = { connections, pipelining, seconds };
    const headers = { authorization: `Bearer ${session.token}`, "x-purpose-of-use": "TREAT" };
    const bareRound = (o: Partial<LoadOptions> = {}) =>
      runLoad(generator, { ...common, ...o, url: `${bareUrl}/obs` });
    const careRound = (o: Partial<LoadOptions> = {}) =>
      runLoad(generator, { ...common, ...o, url: `${careUrl}${path}`, headers });
    // Warm-up both (JIT, caches), not measured.
    await bareRound({ seconds: 2 });
    await careRound({ seconds: 2 });
    await node.services.audit.flush();
    const auditBefore = node.services.audit.size();
    const bareRuns: MeasuredLoad[] = [];
    const careRuns: MeasuredLoad[] = [];
    for (let r = 0; r < rounds; r++) {
      // Pairs alternate which target goes first, so neither always follows the other's load.
      if (r % 2 === 0) {
        bareRuns.push(await bareRound());
        careRuns.push(await careRound());
      } else {
        careRuns.push(await careRound());
        bareRuns.push(await bareRound());
      }
    }
    await node.services.audit.flush();
    const auditEntries = node.services.audit.size() - auditBefore;
    // Same settings for both at 64 connections, one round each: does group commit keep up?
    const bareWide = await bareRound({ connections: WIDE_CONNECTIONS });
    const careWide = await careRound({ connections: WIDE_CONNECTIONS });
    // The profile's own round, not counted: sampling costs the profiled process CPU.
    const stop = await startCpuProfile(RULES);
    await careRound();
    const profile = await stop();

    const mean = (xs: MeasuredLoad[], f: (x: MeasuredLoad) => number) =>
      round(xs.reduce((s, x) => s + f(x), 0) / xs.length, 2);
    const summary = (xs: MeasuredLoad[]) => ({
      requestsPerSecond: mean(xs, (x) => x.requestsPerSecond),
      serverCpuUsPerRequest: mean(xs, (x) => x.serverCpuUsPerRequest),
      latencyMsP50: mean(xs, (x) => x.latencyMs.p50),
      latencyMsP99: mean(xs, (x) => x.latencyMs.p99),
      requests: xs.reduce((s, x) => s + x.requests, 0),
      non2xx: xs.reduce((s, x) => s + x.non2xx, 0),
      errors: xs.reduce((s, x) => s + x.errors, 0),
      bytesPerResponse: xs[0]?.bytesPerRequest ?? 0,
      rounds: xs.map((x) => x.requestsPerSecond),
    });
    const care = summary(careRuns);
    const plain = summary(bareRuns);
    // Equal time on each, so the ratio of mean rates is the ratio of all requests served; the
    // pairs' own ratios show how far one pair's noise moves it.
    const ratio = round(care.requestsPerSecond / plain.requestsPerSecond, 3);
    const pairRatios = careRuns
      .map((c, i) => c.requestsPerSecond / (bareRuns[i]?.requestsPerSecond ?? Number.NaN))
      .sort((a, b) => a - b);
    const pairs = {
      median: round(pairRatios[Math.floor(pairRatios.length / 2)] ?? 0, 3),
      min: round(pairRatios[0] ?? 0, 3),
      max: round(pairRatios[pairRatios.length - 1] ?? 0, 3),
    };
    return {
      bench: "fhirRead",
      quick: options.quick,
      // V8 flags of this process (npm run bench sets the young generation size `carechain start` uses)
      v8Flags: process.execArgv.filter((a) => a.startsWith("--max")),
      load: {
        connections,
        pipelining,
        secondsPerRound: seconds,
        rounds,
        generator: "autocannon in a child process",
      },
      documentBytes: Buffer.byteLength(body),
      carechain: {
        ...care,
        route:
          "GET /fhir/Observation/:id (authorized, decrypted, audited; buildApp + fhirRoutes, rate limit raised)",
      },
      bareFastify: { ...plain, route: "GET /obs (same JSON document)" },
      ratio,
      pairRatios: pairs,
      auditEntriesWritten: auditEntries,
      auditEntriesPerCarechainRequest: round(auditEntries / Math.max(1, care.requests), 3),
      // Any non-2xx or error makes the run meaningless: the rates would count refusals.
      valid: care.non2xx + care.errors + plain.non2xx + plain.errors === 0,
      targets: { ratioAtLeast: TARGET_RATIO, met: ratio >= TARGET_RATIO },
      at64Connections: {
        carechain: summary([careWide]),
        bareFastify: summary([bareWide]),
        ratio: round(careWide.requestsPerSecond / bareWide.requestsPerSecond, 3),
        valid: careWide.non2xx + careWide.errors + bareWide.non2xx + bareWide.errors === 0,
      },
      carechainProfile: profile,
      loadAverage1m: load(),
    };
  } finally {
    for (const close of closers) await close();
    await bare.close();
    await bench.stop();
  }
}

if (isMain(import.meta.url)) await runAsScript(runFhirReadBench);
