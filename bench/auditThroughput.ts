/**
 * Audit throughput against the naive design, on one embedded anvil and SQLite (one run, same
 * machine, side by side):
 * (a) carechain: many concurrent producers call `AuditLog.enqueue` with realistic entries on a
 *     real node while its Anchorer (interval 1000 ms) signs tree heads and its outbox relayer
 *     lands `AuditAnchor.anchor` transactions; measured: entries durably appended per second
 *     (an enqueue resolves only after its batch committed), anchor transactions landed per
 *     second, and enqueue-to-durable latency; in four alternating rounds with the completeness
 *     commitment (per-patient `prev` chain and patient map, docs/audit-completeness.md) on, off,
 *     on, off, so its cost shows side by side;
 * (b) naive: one signed `AuditAnchor.anchor` transaction per access event, receipt awaited, a few
 *     concurrent senders (bench/support/naiveLedger.ts).
 * Issue targets: >= 50,000 entries/s and >= 200x the naive rate at <= 1 anchor tx/s. Reported,
 * never asserted. Run: `npx tsx bench/auditThroughput.ts [--quick]`.
 */
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { encodeAuditEntry } from "../src/audit/auditEntry.js";
import { canonicalText } from "../src/audit/canonicalText.js";
import { auditAnchorAbi } from "../src/chain/artifacts/AuditAnchor.js";
import { auditEntries } from "./support/auditEntries.js";
import { startBenchNode, type BenchNode } from "./support/benchNode.js";
import { runNaive } from "./support/naiveLedger.js";
import { isMain, latencySummary, load, round, runAsScript, type BenchOptions } from "./support/report.js";

const TARGETS = { entriesPerSecond: 50_000, ratioOverNaive: 200, anchorTxPerSecondAtMost: 1 };

let next = 0;
/** Durations of every `createTreeHead` call on the bench node, in order. */
const headSigning: number[] = [];

async function carechain(bench: BenchNode, seconds: number, producers: number, completeness: boolean) {
  const { services, context } = bench.node;
  const log = services.audit;
  const client = context.clients.publicClient;
  const entry = auditEntries(context.key.account.address);
  if (next === 0) {
    // The fast encoder must give the bytes of the general RFC 8785 encoder, with or without `prev`.
    for (let i = 0; i < 2000; i++) {
      const e = entry(i);
      if (canonicalText(e) !== encodeAuditEntry(e)) throw new Error(`canonicalText differs at sample ${i}`);
      if (canonicalText(e, i) !== encodeAuditEntry({ ...e, prev: i }))
        throw new Error(`canonicalText with prev differs at sample ${i}`);
    }
    // Warm-up: JIT, statement cache, first anchor (and with it the patient map's first tree, its
    // worker thread and its first persist, all once per node).
    await Promise.all(Array.from({ length: 20_000 }, (_, i) => log.enqueue(entry(i))));
    next = 20_000;
    const t = performance.now();
    while (((await log.latestTreeHead("anchored"))?.treeSize ?? 0) < next && performance.now() - t < 30_000)
      await new Promise((r) => setTimeout(r, 20));
    await log.patientMapPersisted();
  }
  const signing = headSigning.length;
  log.setPatientChainsForBench(completeness);
  const sizeBefore = log.size();
  const startBlock = await client.getBlockNumber();
  let durable = 0;
  const latencies: number[] = [];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < deadline) {
        const e = entry(next++);
        const t0 = performance.now();
        await log.enqueue(e);
        latencies.push(performance.now() - t0);
        durable++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const endBlock = await client.getBlockNumber();
  const sizeAtEnd = log.size();
  // How long until an anchor on the ledger covers everything appended in the window.
  const t = performance.now();
  let anchoredSize = 0;
  while (performance.now() - t < 15_000) {
    anchoredSize = (await log.latestTreeHead("anchored"))?.treeSize ?? 0;
    if (anchoredSize >= sizeAtEnd) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const coveredAfterMs = anchoredSize >= sizeAtEnd ? round(performance.now() - t, 0) : null;
  const signed = headSigning.slice(signing).sort((a, b) => a - b);
  const anchors = await client.getContractEvents({
    address: context.deployment.auditAnchor,
    abi: auditAnchorAbi,
    eventName: "TreeHeadAnchored",
    args: { node: context.key.account.address },
    fromBlock: startBlock + 1n,
    toBlock: endBlock,
  });
  return {
    completeness,
    producers,
    seconds: round(elapsed),
    entriesDurable: durable,
    entriesPerSecond: Math.round(durable / elapsed),
    /**
     * CPU of this process (every thread: event loop, writing thread, patient-map worker, WAL
     * checkpointer, V8's GC helpers) per durable entry, bench producers included: it moves less
     * than the rate when the shared host slows down, so it compares versions better.
     */
    processCpuMicrosPerEntry: round((cpu.user + cpu.system) / durable, 1),
    logSize: { before: sizeBefore, after: sizeAtEnd },
    enqueueToDurableMs: latencySummary(latencies),
    treeHeadsSigned: (await log.treeHeads({ afterSize: sizeBefore, limit: 1000 })).filter(
      (h) => h.treeSize <= sizeAtEnd,
    ).length,
    /** How long `createTreeHead` took (it waits for the patient map's root). */
    headSigningMs: {
      heads: signed.length,
      p50: round(signed[Math.floor(signed.length / 2)] ?? NaN, 1),
      max: round(signed.at(-1) ?? NaN, 1),
    },
    patientMapOnWorker: log.patientMapOnWorker(),
    anchorsLanded: anchors.length,
    anchorTxPerSecond: round(anchors.length / elapsed),
    anchorCoversWindowEndAfterMs: coveredAfterMs,
  };
}

/**
 * Runs both designs on one node's anvil and returns rates, latencies and the ratio.
 * @param options - `quick` for 3 s windows
 */
export async function runAuditThroughputBench(options: BenchOptions = { quick: false }): Promise<object> {
  const seconds = options.quick ? 3 : 10;
  const producers = options.quick ? 1000 : 4000;
  const loadAtStart = load();
  const bench = await startBenchNode({ anchorIntervalMs: 1000 });
  const log = bench.node.services.audit;
  const createTreeHead = log.createTreeHead.bind(log);
  log.createTreeHead = async (...args) => {
    const t0 = performance.now();
    try {
      return await createTreeHead(...args);
    } finally {
      headSigning.push(performance.now() - t0);
    }
  };
  try {
    // The completeness commitment (patient chains + map) on and off, alternating rounds on one node.
    const rounds: Array<Awaited<ReturnType<typeof carechain>>> = [];
    for (const completeness of [true, false, true, false]) {
      process.stderr.write(
        `auditThroughput: carechain, completeness ${completeness ? "on" : "off"}, ${producers} producers, ${seconds / 2} s\n`,
      );
      rounds.push(await carechain(bench, seconds / 2, producers, completeness));
    }
    const rate = (on: boolean) =>
      Math.round(
        rounds.filter((r) => r.completeness === on).reduce((sum, r) => sum + r.entriesPerSecond, 0) / 2,
      );
    const completeness = {
      onEntriesPerSecond: rate(true),
      offEntriesPerSecond: rate(false),
      onOverOff: round(rate(true) / rate(false), 3),
    };
    const a = { ...rounds[0]!, entriesPerSecond: completeness.onEntriesPerSecond };
    process.stderr.write(`auditThroughput: naive, ${seconds} s\n`);
    // The naive design signs as a second registered node, so the two anchor sequences stay apart.
    const naiveNode = privateKeyToAccount(generatePrivateKey());
    await bench.registerOrganization(keccak256(toHex("bench-naive-org")), "Naive Org", naiveNode.address);
    const { context } = bench.node;
    const b = await runNaive({
      publicClient: context.clients.publicClient,
      chainId: context.clients.chainId,
      auditAnchor: context.deployment.auditAnchor,
      nodeSigner: naiveNode,
      sender: privateKeyToAccount(generatePrivateKey()),
      senders: 8,
      seconds,
      entry: auditEntries(naiveNode.address),
    });
    const ratio = round(a.entriesPerSecond / (b.eventsPerSecond as number), 1);
    return {
      bench: "auditThroughput",
      v8Flags: process.execArgv.filter((a) => a.startsWith("--max")),
      engine: "sqlite (file, WAL, synchronous=NORMAL)",
      ledger: "embedded anvil (automine), same instance for both",
      quick: options.quick,
      anchorIntervalMs: 1000,
      completeness,
      carechain: rounds,
      naive: b,
      ratioEntriesPerSecondOverNaive: ratio,
      targets: TARGETS,
      met: {
        entriesPerSecond: a.entriesPerSecond >= TARGETS.entriesPerSecond,
        ratio: ratio >= TARGETS.ratioOverNaive,
        anchorRate: a.anchorTxPerSecond <= TARGETS.anchorTxPerSecondAtMost,
      },
      loadAverage1m: load(),
      loadAverage1mAtStart: loadAtStart,
    };
  } finally {
    await bench.stop();
  }
}

if (isMain(import.meta.url)) await runAsScript(runAuditThroughputBench);
