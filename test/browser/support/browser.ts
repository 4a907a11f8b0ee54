/**
 * Browser tests' support: a carechain node serving the built web app, Debian's Chromium driven by
 * playwright-core, pages that record console errors, page errors and CSP violations, axe-core
 * checks and screenshots (written to test-results/screenshots/, git-ignored).
 *
 * Chromium is required: when /usr/bin/chromium (or CHROMIUM_PATH) is missing, `launchBrowser`
 * throws, so a run without it fails instead of skipping (.ci/run installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import axe from "axe-core";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ensureWebBuilt } from "../../../scripts/buildWeb.js";
import { loadConfig } from "../../../src/config/config.js";
import type { OrganizationKind } from "../../../src/model/vocabulary.js";
import { createLogger } from "../../../src/node/logger.js";
import { startNode, type RunningNode } from "../../../src/node/startNode.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = join(import.meta.dirname, "..", "..", "..", "test-results", "screenshots");

export interface WebNode {
  node: RunningNode;
  url: string;
  stop(): Promise<void>;
}

/** Builds the web app when stale and starts a node (anvil + SQLite) serving it. */
export async function startWebNode(
  options: { demo?: boolean; databaseUrl?: string | undefined; orgKind?: OrganizationKind } = {},
): Promise<WebNode> {
  ensureWebBuilt();
  if (!existsSync(join(import.meta.dirname, "..", "..", "..", "web", "dist", "index.html")))
    throw new Error("the web app did not build (web/dist/index.html is missing)");
  const dir = mkdtempSync(join(tmpdir(), "carechain-web-"));
  const node = await startNode(
    loadConfig(
      {},
      {
        dataDir: dir,
        port: 0,
        anchorIntervalMs: 300,
        demo: options.demo ?? false,
        databaseUrl: options.databaseUrl,
        ...(options.orgKind !== undefined ? { orgKind: options.orgKind } : {}),
      },
    ),
    { logger: createLogger("silent") },
  );
  let stopping: Promise<void> | undefined;
  return {
    node,
    url: node.url,
    // once: a test may stop the node itself (to go offline) before afterAll does
    stop: () =>
      (stopping ??= (async () => {
        await node.stop();
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/**
 * Launches headless Chromium; throws (never skips) when it is not installed.
 * @param extraArgs - more switches (a fake camera, for instance)
 */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`,
    );
  // playwright-core gives every launch a new temporary profile (user data dir)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}

export interface TestPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, uncaught page errors and CSP violations seen so far. */
  problems: string[];
}

/** A page in a fresh browser context (its own IndexedDB), recording every problem. */
export async function openPage(
  browser: Browser,
  base: string,
  viewport = { width: 1280, height: 900 },
): Promise<TestPage> {
  const context = await browser.newContext({ baseURL: base, viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return { page, context, problems };
}

/** Writes a screenshot of the page (full height) to test-results/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Runs axe-core on the page (injected through the DevTools protocol, which the page's CSP does not
 * govern) and returns the serious and critical violations.
 */
export async function axeViolations(
  page: Page,
): Promise<Array<{ id: string; impact: string; nodes: string[] }>> {
  await page.evaluate(axe.source);
  const result = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            ctx: Document,
            o: object,
          ): Promise<{
            violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
          }>;
        };
      }
    ).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** True when the page is wider than its viewport (horizontal scrolling). */
export async function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}

/** Signs in through the sign-in page by importing `privateKey` (stored under a test passphrase). */
export async function signInWithKey(
  page: Page,
  privateKey: string,
  as: "auto" | "patient" | "practitioner" = "auto",
): Promise<void> {
  await page.goto("/");
  await page.getByLabel("Sign in as").selectOption(as);
  await page.getByLabel("How").selectOption("private-key");
  await page.getByLabel("Private key", { exact: true }).fill(privateKey);
  await page.getByLabel("Passphrase to protect it in this browser").fill("correct horse battery");
  await page.getByRole("button", { name: "Import and sign in" }).click();
  await page.waitForURL((u) => u.pathname !== "/", { timeout: 30_000 });
}
