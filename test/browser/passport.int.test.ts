/**
 * The digital health passport's web pages in Chromium against a demo node (anvil + SQLite):
 *
 * - the node's operator (signed in with the node's key) lets the organization issue and registers
 *   it on the ledger from the issuer console;
 * - a demo patient issues a vaccination card and a test-result card on "My passport"; the QR codes
 *   shown full screen are read off the screen (screenshot -> jsQR) and verify; the downloaded
 *   `.smart-health-card` file holds the same card;
 * - the public verifier verifies in the browser: the screenshots uploaded, the camera (a fake
 *   camera showing the codes), a tampered card refused as altered, the card revoked from the
 *   console shown revoked, and, once the node is stopped, the page still loads from its service
 *   worker and still verifies with the ledger cache it kept (its age shown).
 *
 * Screenshots go to test-results/screenshots/passport-*.png.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import QRCode from "qrcode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeCrypto } from "../../src/passport/nodeCrypto.js";
import { ledgerCacheSchema, trustLedgerCache } from "../../src/passport/ledgerCache.js";
import { decodeQrPng } from "../../src/passport/qrImage.js";
import { decodeShcUri } from "../../src/passport/shcNumeric.js";
import { TrustStore } from "../../src/passport/trustStore.js";
import { verifyPassport } from "../../src/passport/verifyPassport.js";
import {
  axeViolations,
  launchBrowser,
  openPage,
  screenshot,
  scrollsSideways,
  signInWithKey,
  startWebNode,
  type TestPage,
  type WebNode,
} from "./support/browser.js";

const TIMEOUT = 60_000;

/** Waits until the console's ledger-write table shows `action`'s newest write confirmed. */
async function writeConfirmed(page: Page, action: string): Promise<void> {
  const row = page
    .getByRole("region", { name: "Ledger writes (outbox)" })
    .locator("tr", { hasText: action })
    .first();
  await expect
    .poll(async () => ((await row.count()) > 0 ? await row.locator(".badge").first().textContent() : ""), {
      timeout: TIMEOUT,
    })
    .toBe("confirmed");
}

/** A Y4M video (what Chromium's fake camera plays) showing each QR payload in turn, 10 frames each. */
function qrVideo(payloads: readonly string[], file: string): void {
  const width = 640;
  const height = 480;
  const frames: Buffer[] = [];
  for (const payload of payloads) {
    const match = /^(shc:\/(?:\d+\/\d+\/)?)(\d+)$/.exec(payload);
    const qr = QRCode.create(
      match
        ? [
            { data: Buffer.from(match[1] ?? ""), mode: "byte" },
            { data: match[2] ?? "", mode: "numeric" },
          ]
        : payload,
      { errorCorrectionLevel: "L" },
    );
    const size = qr.modules.size;
    const scale = Math.floor((height - 40) / (size + 8));
    const left = Math.floor((width - size * scale) / 2);
    const top = Math.floor((height - size * scale) / 2);
    const y = Buffer.alloc(width * height, 235);
    for (let row = 0; row < size * scale; row++)
      for (let col = 0; col < size * scale; col++)
        if (qr.modules.get(Math.floor(row / scale), Math.floor(col / scale)))
          y[(top + row) * width + left + col] = 16;
    const chroma = Buffer.alloc((width * height) / 2, 128);
    for (let i = 0; i < 10; i++) frames.push(Buffer.from("FRAME\n"), y, chroma);
  }
  writeFileSync(
    file,
    Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`), ...frames]),
  );
}

describe("passport pages in Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-passport-web-"));
  let web: WebNode;
  let browser: Browser;
  let operator: TestPage;
  let patient: TestPage;
  let verifier: TestPage;
  /** The vaccination card as downloaded, and its QR codes as read off the screen. */
  let vaccinationFile = "";
  let screenQrs: Buffer[] = [];
  let screenPayloads: string[] = [];
  let labFile = "";

  const verifyText = async (page: Page, text: string): Promise<void> => {
    await page.getByLabel("Card text").fill(text);
    await page.getByRole("button", { name: "Verify", exact: true }).click();
  };
  const verdict = (page: Page) => page.getByRole("region", { name: "Verification result" }).first();
  const checkStatus = (page: Page, check: string) =>
    verdict(page).locator(`[data-check="${check}"]`).getAttribute("data-status");

  beforeAll(async () => {
    web = await startWebNode({ demo: true });
    // seeding registers the node's organization (the operator's role) and imports demo patients
    await web.node.demo;
    browser = await launchBrowser();
    operator = await openPage(browser, web.url);
    patient = await openPage(browser, web.url);
    verifier = await openPage(browser, web.url);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the operator approves and registers the node as an issuer from the issuer console", async () => {
    const { page } = operator;
    await signInWithKey(page, web.node.context.key.privateKey);
    expect(new URL(page.url()).pathname).toBe("/operator");
    await page.getByRole("link", { name: "Issuer console" }).click();
    await page.getByText("not registered").waitFor({ timeout: TIMEOUT });
    await page.getByRole("button", { name: "Approve this organization to issue" }).click();
    await writeConfirmed(page, "setIssuerApproval");
    await page.getByRole("button", { name: "Register on the ledger" }).click();
    await writeConfirmed(page, "addKey");
    const onLedger = page.getByRole("region", { name: "On the ledger" });
    await onLedger.getByText("registered", { exact: true }).waitFor({ timeout: TIMEOUT });
    const keys = page.getByRole("region", { name: "Signing keys and revocation lists" });
    await expect.poll(() => keys.locator("tbody tr").count()).toBe(1);
    expect(await keys.locator("tbody tr td").nth(2).textContent()).toContain("active");
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, "passport-issuer-console-registered");
    expect(operator.problems).toEqual([]);
  }, 120_000);

  it("a demo patient issues a vaccination card, shows its QR codes full screen (read off the screen) and downloads the file", async () => {
    const { page } = patient;
    await page.goto("/");
    await page.getByRole("button", { name: "Sign in as demo patient" }).first().click();
    await page.waitForURL((u) => u.pathname === "/patient", { timeout: TIMEOUT });
    await page.getByRole("link", { name: "My passport" }).click();
    const vaccinations = page.getByRole("region", { name: "Vaccinations" });
    await vaccinations.locator("li").first().waitFor({ timeout: TIMEOUT });
    expect(await vaccinations.locator("li").count()).toBeGreaterThan(0);
    await screenshot(page, "passport-patient-eligible");

    await page.getByRole("button", { name: "Issue a vaccination card" }).click();
    const issued = page.getByRole("region", { name: "Your new vaccination card" });
    await issued.waitFor({ timeout: TIMEOUT });
    const codes = await issued.locator("img.qr-thumb").count();
    expect(codes).toBeGreaterThan(0);
    await screenshot(page, "passport-patient-issued");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download .smart-health-card" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^immunization-\d{4}-\d{2}-\d{2}\.smart-health-card$/);
    vaccinationFile = readFileSync(await download.path(), "utf8");
    const { verifiableCredential } = JSON.parse(vaccinationFile) as { verifiableCredential: string[] };
    expect(verifiableCredential).toHaveLength(1);

    // full screen, one code at a time: screenshot each and decode it as a camera would
    await page.getByRole("button", { name: "Show full screen" }).click();
    const full = page.getByRole("dialog", { name: /^Health card QR code/ });
    await full.waitFor();
    const box = await full.locator("img").boundingBox();
    // large: most of the 1280 x 900 screen's height
    expect(box?.height ?? 0).toBeGreaterThan(700);
    screenQrs = [];
    for (let i = 0; i < codes; i++) {
      if (i > 0) await page.getByRole("button", { name: "Next code" }).click();
      await full.locator("img").evaluate((img: HTMLImageElement) => img.decode());
      const shot = await full.locator("img").screenshot();
      screenQrs.push(shot);
      if (i === 0) await screenshot(page, "passport-patient-qr-full-screen");
    }
    screenPayloads = screenQrs.map((png) => decodeQrPng(png));
    expect(decodeShcUri(screenPayloads.join("\n"))).toBe(verifiableCredential[0]);
    // and it verifies with the node's own verifier against the ledger
    const trust = new TrustStore(nodeCrypto);
    trustLedgerCache(
      ledgerCacheSchema.parse(await (await fetch(`${web.url}/passport/ledger-cache`)).json()),
      trust,
    );
    const [report] = verifyPassport(screenPayloads, trust, new Date());
    expect(report?.valid).toBe(true);
    await page.keyboard.press("Escape");
    await full.waitFor({ state: "detached" });

    // a second card, of test results, for the offline check later
    await page.getByRole("button", { name: "Issue a test-result card" }).click();
    await page.getByRole("region", { name: "Your new test-result card" }).waitFor({ timeout: TIMEOUT });
    const [labDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download .smart-health-card" }).click(),
    ]);
    labFile = readFileSync(await labDownload.path(), "utf8");
    const issuedBefore = page.getByRole("region", { name: "Cards issued before" });
    await expect.poll(() => issuedBefore.locator("tbody tr").count()).toBe(2);
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 900 });
      expect(await axeViolations(page)).toEqual([]);
      expect(await scrollsSideways(page)).toBe(false);
    }
    await screenshot(page, "passport-patient-375");
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(patient.problems).toEqual([]);
  }, 120_000);

  it("the public verifier verifies the card in the browser from the QR pictures, showing each check and only the card's facts", async () => {
    const { page } = verifier;
    await page.goto("/verify");
    await page.getByText("Issuers read from the ledger").waitFor({ timeout: TIMEOUT });
    await page
      .getByLabel("QR code pictures or a .smart-health-card file")
      .setInputFiles(
        screenQrs.map((buffer, i) => ({ name: `qr-${i + 1}.png`, mimeType: "image/png", buffer })),
      );
    await verdict(page).waitFor({ timeout: TIMEOUT });
    expect(await verdict(page).locator("h2").textContent()).toBe("Valid");
    for (const check of [
      "payload-well-formed",
      "issuer-trusted",
      "signature",
      "key-not-revoked",
      "card-not-revoked",
      "not-before",
      "content-valid",
    ])
      expect(await checkStatus(page, check), check).toBe("pass");
    const person = await verdict(page).locator(".verdict-person").textContent();
    expect(person).toMatch(/^Name.+Birth date.+$/);
    expect(await verdict(page).locator("h3", { hasText: "Vaccinations" }).count()).toBe(1);
    expect(await page.getByText("Verified in this browser").count()).toBe(1);
    // it verified here: no card went to the node
    expect(
      await page.evaluate(() => performance.getEntriesByName(`${location.origin}/passport/verify`).length),
    ).toBe(0);
    await screenshot(page, "passport-verifier-valid");
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 900 });
      expect(await axeViolations(page)).toEqual([]);
      expect(await scrollsSideways(page)).toBe(false);
    }
    await screenshot(page, "passport-verifier-375");
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 120_000);

  it("the verifier reads the card with the camera (a fake camera showing the codes in turn)", async () => {
    const video = join(dir, "qr.y4m");
    qrVideo(screenPayloads, video);
    const cameraBrowser = await launchBrowser([
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      `--use-file-for-fake-video-capture=${video}`,
    ]);
    try {
      const camera = await openPage(cameraBrowser, web.url);
      await camera.context.grantPermissions(["camera"], { origin: web.url });
      await camera.page.goto("/verify");
      await camera.page.getByText("Issuers read from the ledger").waitFor({ timeout: TIMEOUT });
      await camera.page.getByRole("button", { name: "Scan with the camera" }).click();
      await verdict(camera.page).waitFor({ timeout: TIMEOUT });
      expect(await verdict(camera.page).locator("h2").textContent()).toBe("Valid");
      await screenshot(camera.page, "passport-verifier-camera");
      expect(camera.problems).toEqual([]);
    } finally {
      await cameraBrowser.close();
    }
  }, 120_000);

  it("refuses a tampered card as altered", async () => {
    const { page } = verifier;
    const jws =
      (JSON.parse(vaccinationFile) as { verifiableCredential: string[] }).verifiableCredential[0] ?? "";
    const [header, payload, signature] = jws.split(".") as [string, string, string];
    // one character of the signed payload changed
    const at = Math.floor(payload.length / 2);
    const tampered = `${header}.${payload.slice(0, at)}${payload[at] === "A" ? "B" : "A"}${payload.slice(at + 1)}.${signature}`;
    await verifyText(page, tampered);
    await verdict(page).waitFor();
    expect(await verdict(page).locator("h2").textContent()).toBe("Not valid");
    expect(await verdict(page).locator(".verdict-reason").getAttribute("data-reason")).toBe(
      "signature_invalid",
    );
    expect(await checkStatus(page, "signature")).toBe("fail");
    // what an altered card claims is not shown
    expect(await verdict(page).locator(".verdict-person").count()).toBe(0);
    expect(await verdict(page).locator(".list li").count()).toBe(0);
    await screenshot(page, "passport-verifier-tampered");
  });

  it("shows the card revoked once the issuer revoked it from the console", async () => {
    // the console refreshes itself every 3 s (a reload would end the operator's in-memory session)
    const { page } = operator;
    const cards = page.getByRole("region", { name: "Cards issued" });
    const row = cards.locator("tbody tr", { hasText: "immunization" });
    await row.waitFor({ timeout: TIMEOUT });
    await row.getByRole("button", { name: /^Revoke card/ }).click();
    await page.getByRole("dialog", { name: "Are you sure?" }).getByRole("button", { name: "Revoke" }).click();
    await writeConfirmed(page, "revokeCard");
    const keys = page.getByRole("region", { name: "Signing keys and revocation lists" });
    await expect.poll(() => keys.locator("tbody tr td").nth(3).textContent(), { timeout: TIMEOUT }).toBe("1");
    await screenshot(page, "passport-issuer-console-revoked");
    expect(operator.problems).toEqual([]);

    const v = verifier.page;
    await v.reload();
    await v.getByText("Issuers read from the ledger").waitFor({ timeout: TIMEOUT });
    await verifyText(v, vaccinationFile);
    await verdict(v).waitFor();
    expect(await verdict(v).locator("h2").textContent()).toBe("Not valid");
    expect(await verdict(v).locator(".verdict-reason").getAttribute("data-reason")).toBe("revoked");
    expect(await checkStatus(v, "card-not-revoked")).toBe("fail");
    expect(await checkStatus(v, "signature")).toBe("pass");
    await screenshot(v, "passport-verifier-revoked");
  }, 120_000);

  it("still loads and verifies with the node stopped: the service worker kept the page and the ledger cache", async () => {
    const { page } = verifier;
    const worker = await page.evaluate(() =>
      Promise.race([
        navigator.serviceWorker.ready.then((r) => r.active?.state ?? "none"),
        new Promise<string>((resolve) => setTimeout(() => resolve("not ready in 10 s"), 10_000)),
      ]),
    );
    expect(worker).toBe("activated");
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    expect(verifier.problems).toEqual([]);

    // the other pages go first (their requests would hold the node's shutdown), then the node
    await operator.context.close();
    await patient.context.close();
    await web.stop();
    expect(
      await fetch(`${web.url}/health`).then(
        () => "up",
        () => "down",
      ),
    ).toBe("down");
    await page.reload();
    await page.getByRole("heading", { name: "Verify a health card" }).waitFor({ timeout: TIMEOUT });
    await page.getByText("Offline", { exact: true }).waitFor({ timeout: TIMEOUT });
    expect(await page.getByTestId("ledger-age").textContent()).toMatch(
      /as the ledger listed them \d+ (seconds|minutes) ago/,
    );
    await verifyText(page, labFile);
    await verdict(page).waitFor();
    expect(await verdict(page).locator("h2").textContent()).toBe("Valid");
    expect(await verdict(page).locator("h3", { hasText: "Results" }).count()).toBe(1);
    await screenshot(page, "passport-verifier-offline");
    // the revocation it read before going offline still stands
    await verifyText(page, vaccinationFile);
    await expect
      .poll(() => verdict(page).locator(".verdict-reason").getAttribute("data-reason"))
      .toBe("revoked");
  }, 120_000);
});
