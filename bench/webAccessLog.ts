/**
 * The web app's access-log check, in Chromium and in Node: a patient with at least 1,000 entries
 * in their access log (a Synthea import, then reads of their own record), all anchored; the
 * access-log page reads the roots from the ledger over JSON-RPC and verifies every row's inclusion
 * proof and the log's completeness (web/src/verify/accessLog.ts, timed by the page's own
 * `performance.measure`); Node runs the very same function on the same document. Also reports the
 * web app's initial JavaScript, gzipped (scripts/buildWeb.js). Target: ≤ 1 s in the browser.
 * Run: `npx tsx bench/webAccessLog.ts` (prints JSON; nothing asserted).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { ensureWebBuilt } from "../scripts/buildWeb.js";
import { siweSignIn } from "../src/access/siweClient.js";
import { createApi } from "../web/src/api/client.js";
import { fetchAccessLog, ledgerClient, verifyLog } from "../web/src/verify/accessLog.js";
import { launchBrowser, openPage, signInWithKey } from "../test/browser/support/browser.js";
import { startBenchNode } from "./support/benchNode.js";
import { isMain, round, runAsScript, type BenchOptions } from "./support/report.js";

const ROOT = join(import.meta.dirname, "..");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function runWebAccessLogBench(options: BenchOptions): Promise<object> {
  ensureWebBuilt();
  const bundle = JSON.parse(readFileSync(join(ROOT, "web", "dist", ".bundle-size.json"), "utf8")) as {
    initialGzipBytes: number;
    totalGzipBytes: number;
  };
  const rowsWanted = options.quick ? 300 : 1000;
  const bench = await startBenchNode({ anchorIntervalMs: 300 });
  const browser = await launchBrowser();
  try {
    const url = bench.node.url;
    const key = generatePrivateKey();
    const patient = privateKeyToAccount(key);
    const fixtures = join(ROOT, "test", "fixtures", "synthea");
    const file = readdirSync(fixtures).find((f) => f.endsWith(".json"))!;
    const doc = privateKeyToAccount(generatePrivateKey());
    await bench.addPractitioners([
      { organization: bench.node.context.organizationId, account: doc.address, role: "physician" },
    ]);
    const docToken = (await siweSignIn(url, doc)).token;
    const imported = await fetch(`${url}/fhir`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${docToken}`,
        "content-type": "application/json",
        "x-patient-account": patient.address,
      },
      body: readFileSync(join(fixtures, file), "utf8"),
    });
    if (!imported.ok) throw new Error(`import failed: ${imported.status}`);
    let token = (await siweSignIn(url, patient, { as: { kind: "patient" } })).token;
    const api = createApi({
      token: () => token,
      reauthenticate: async () => {
        token = (await siweSignIn(url, patient, { as: { kind: "patient" } })).token;
      },
    });
    const base = (path: string) => `${url}${path}`;
    const get = <T>(path: string) => api.get<T>(base(path));
    const patientId = (await get<{ entry: Array<{ resource: { id: string } }> }>("/fhir/Patient")).entry[0]!
      .resource.id;
    // reads of their own record until the log holds enough entries about them
    const nodeApi = { ...api, get: <T>(p: string) => api.get<T>(base(p)) };
    let size = (await fetchAccessLog(nodeApi)).items.length;
    while (size < rowsWanted) {
      const batch = Math.min(50, rowsWanted - size);
      await Promise.all(Array.from({ length: batch }, () => get(`/fhir/Patient/${patientId}`)));
      size += batch;
    }
    let log = await fetchAccessLog(nodeApi);
    for (let i = 0; i < 200 && log.items.some((it) => it.proof === null); i++) {
      await new Promise((r) => setTimeout(r, 200));
      log = await fetchAccessLog(nodeApi);
    }
    const config = (await (await fetch(`${url}/app/config`)).json()) as { chainRpcUrl: string };
    const ledger = ledgerClient(config.chainRpcUrl);
    const nodeRuns: number[] = [];
    for (let i = 0; i < 5; i++) {
      const v = await verifyLog(log, patient.address, ledger);
      if (!v.completeness.ok) throw new Error(`node verification failed: ${v.completeness.reason}`);
      nodeRuns.push(v.ms);
    }

    const { page } = await openPage(browser, url);
    await signInWithKey(page, key, "patient");
    await page.getByRole("link", { name: "Access log" }).click();
    const browserRuns: number[] = [];
    for (let i = 0; i < 5; i++) {
      if (i > 0) await page.getByRole("button", { name: "Check again" }).click();
      await page.waitForFunction(
        (n) => performance.getEntriesByName("carechain:verify-access-log").length > n,
        i,
        { timeout: 60_000 },
      );
      await page.getByText("Complete and verified against the ledger").waitFor({ timeout: 60_000 });
      browserRuns.push(
        await page.evaluate(
          (n) => performance.getEntriesByName("carechain:verify-access-log")[n]!.duration,
          i,
        ),
      );
    }
    const rowsShown = await page.locator("li[data-verdict='verified']").count();
    const browserMs = median(browserRuns);
    const nodeMs = median(nodeRuns);
    return {
      rows: log.items.length,
      note: "roots read from the ledger over JSON-RPC, every row's inclusion proof and the completeness check; median of 5 (the first browser run includes JIT warm-up)",
      browserMs: round(browserMs, 1),
      browserRunsMs: browserRuns.map((x) => round(x, 1)),
      nodeMs: round(nodeMs, 1),
      nodeRunsMs: nodeRuns.map((x) => round(x, 1)),
      browserOverNode: round(browserMs / nodeMs, 2),
      rowsMarkedVerifiedOnFirstScreen: rowsShown,
      initialJsGzipKiB: round(bundle.initialGzipBytes / 1024, 1),
      allJsGzipKiB: round(bundle.totalGzipBytes / 1024, 1),
    };
  } finally {
    await browser.close();
    await bench.stop();
  }
}

if (isMain(import.meta.url)) await runAsScript(runWebAccessLogBench);
