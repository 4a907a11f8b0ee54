import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { batchSigner, type DeviceReading } from "../../src/monitoring/batch.js";
import { DeviceSimulator } from "../../src/monitoring/simulator.js";
import { grantForTreatment } from "../support/grants.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";
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

/**
 * Issue 17's web pages in Chromium, against a node fed by simulated home kits: the patient sees
 * their vitals charted and who watches them; a consented nurse's ward board shows a deteriorating
 * patient move to the top and its alert arrive live, acknowledges it and sees the acknowledgement;
 * a nurse without the patients' consent sees an empty board and no alert.
 */
describe("monitoring pages in the browser", () => {
  let web: WebNode;
  let browser: Browser;
  const docKey = generatePrivateKey();
  const nurseKey = generatePrivateKey();
  const strangerKey = generatePrivateKey();
  const steadyKey = generatePrivateKey();
  const sickKey = generatePrivateKey();
  const doc = privateKeyToAccount(docKey);
  const nurse = privateKeyToAccount(nurseKey);
  const stranger = privateKeyToAccount(strangerKey);
  const steady = privateKeyToAccount(steadyKey);
  const sick = privateKeyToAccount(sickKey);
  const sim = new DeviceSimulator({ seed: 5 });
  const pages: TestPage[] = [];
  /** An account as the pages shorten it (lowercase hex: the node stores accounts so). */
  const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`.toLowerCase();
  let steadySign: ReturnType<typeof batchSigner>;
  let steadyDevice: string;
  let feeding: NodeJS.Timeout | undefined;
  let batch = 0;

  /** The steady patient: a fixed, slightly abnormal set (NEWS2 3: breathing 21, pulse 95), no alert. */
  const steadyBatch = (now: number) => {
    const r = (kind: DeviceReading["kind"], value: number | "A", unit?: string): DeviceReading => ({
      kind,
      value,
      at: now,
      ...(unit ? { unit } : {}),
    });
    return steadySign({
      device: steadyDevice,
      batchId: `steady-${++batch}`,
      sentAt: now,
      readings: [
        r("heart-rate", 95, "/min"),
        r("respiratory-rate", 21, "/min"),
        r("spo2", 97, "%"),
        r("systolic", 125, "mm[Hg]"),
        r("diastolic", 80, "mm[Hg]"),
        r("temperature", 37, "Cel"),
        r("oxygen-flow", 0, "L/min"),
        r("acvpu", "A"),
      ],
    });
  };

  const post = (body: unknown) =>
    fetch(`${web.url}/monitoring/batches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  const feed = async () => {
    const now = Date.now();
    const answers = await Promise.all([post(steadyBatch(now)), post(sim.nextBatch(0, now))]);
    for (const a of answers) expect(a.status).toBe(200);
  };

  beforeAll(async () => {
    [web, browser] = await Promise.all([startWebNode(), launchBrowser()]);
    await registerParticipants(
      web.node,
      [],
      [
        { account: doc.address, role: "physician" },
        { account: nurse.address, role: "nurse" },
        { account: stranger.address, role: "nurse" },
      ],
    );
    const hospital = await signIn(web.url, doc);
    for (const [account, id] of [
      [steady, "mon-steady"],
      [sick, "mon-sick"],
    ] as const) {
      const bundle = {
        resourceType: "Bundle",
        type: "transaction",
        entry: [
          { resource: { resourceType: "Patient", id }, request: { method: "PUT", url: `Patient/${id}` } },
        ],
      };
      const res = await hospital.send("POST", "/fhir", bundle, undefined, {
        "x-patient-account": account.address,
      });
      expect(res.status).toBe(200);
      expect(
        (await grantForTreatment(web.url, account, nurse.address, ["vitals", "device-readings"])).status,
      ).toBe(201);
    }
    const register = async (s: Session, patient: string, publicKey: object) => {
      const res = await s.send("POST", "/monitoring/devices", { patient, publicKey, model: "home kit" });
      expect(res.status).toBe(201);
      return ((await res.json()) as { deviceId: string }).deviceId;
    };
    const steadyKeys = new DeviceSimulator({ seed: 9 }).keyOf(0);
    steadySign = batchSigner(steadyKeys.privatePem);
    steadyDevice = await register(await signIn(web.url, steady), "mon-steady", steadyKeys.publicJwk);
    sim.attach(0, await register(await signIn(web.url, sick), "mon-sick", sim.keyOf(0).publicJwk));
    for (let i = 0; i < 3; i++) await feed();
    feeding = setInterval(() => void feed().catch(() => undefined), 1000);
  }, 180_000);

  afterAll(async () => {
    clearInterval(feeding);
    for (const p of pages) await p.context.close();
    await browser?.close();
    await web?.stop();
  });

  const open = async (viewport?: { width: number; height: number }) => {
    const p = await openPage(browser, web.url, viewport);
    pages.push(p);
    return p;
  };

  it("the patient sees their vitals charted, their device and who watches", async () => {
    const t = await open();
    await signInWithKey(t.page, steadyKey);
    await t.page.getByRole("link", { name: "My vitals" }).click();
    await t.page.getByRole("heading", { name: "My vitals" }).waitFor();
    await t.page.getByRole("figure", { name: /^Heart rate: latest 95 beats\/min/ }).waitFor();
    const score = await t.page.getByText(/Early warning score \(NEWS2\): \d/).innerText();
    expect(score).toMatch(/Early warning score \(NEWS2\): 3, /);
    for (const chart of [
      "Early warning score (NEWS2)",
      "Breathing rate",
      "Oxygen saturation (SpO₂)",
      "Blood pressure",
      "Temperature",
    ])
      expect(
        await t.page.getByRole("figure", { name: new RegExp(`^${chart.replace(/[()]/g, "\\$&")}:`) }).count(),
      ).toBe(1);
    // uPlot drew into a canvas for each chart
    expect(await t.page.locator("figure.chart canvas").count()).toBeGreaterThanOrEqual(6);
    const watchers = await t.page.getByRole("list", { name: "Who can see your vitals" }).innerText();
    expect(watchers.toLowerCase()).toContain(`practitioner ${short(nurse.address)}`);
    expect(watchers.toLowerCase()).not.toContain(short(stranger.address).slice(-4));
    expect(
      await t.page.getByRole("link", { name: "Change who can see your vitals" }).getAttribute("href"),
    ).toBe("/patient/sharing");
    expect(await t.page.getByRole("list", { name: "Devices" }).innerText()).toContain(steadyDevice);
    await screenshot(t.page, "monitoring-patient-vitals");
    expect(await axeViolations(t.page)).toEqual([]);
    await t.page.setViewportSize({ width: 375, height: 800 });
    expect(await scrollsSideways(t.page)).toBe(false);
    await screenshot(t.page, "monitoring-patient-vitals-375");
    expect(t.problems).toEqual([]);
  });

  it("the nurse's ward board: a deteriorating patient moves to the top, its alert arrives live and is acknowledged", async () => {
    const t = await open({ width: 1400, height: 1000 });
    await signInWithKey(t.page, nurseKey);
    await t.page.getByRole("link", { name: "Ward board" }).click();
    const rows = t.page.getByRole("list", { name: "Patients by score" }).locator(":scope > li");
    await rows.nth(1).waitFor();
    // before: the steady patient (NEWS2 3) leads; the sick one is still well
    expect(await rows.nth(0).getAttribute("data-patient")).toBe("mon-steady");
    expect(await t.page.getByRole("list", { name: "Open alerts" }).count()).toBe(0);
    await screenshot(t.page, "monitoring-ward-before");
    const started = Date.now();
    sim.deteriorate(0);
    const alert = t.page
      .getByRole("list", { name: "Open alerts" })
      .locator("li", { hasText: "Patient mon-sick" });
    await alert.first().waitFor({ timeout: 15_000 });
    const alertMs = Date.now() - started;
    await t.page.waitForFunction(
      () =>
        document.querySelector('ol[aria-label="Patients by score"] > li')?.getAttribute("data-patient") ===
        "mon-sick",
      undefined,
      { timeout: 15_000 },
    );
    const topMs = Date.now() - started;
    // the episode takes 4 batches (one a second) to reach its worst: "a few seconds" after it starts
    expect(alertMs).toBeLessThan(10_000);
    expect(topMs).toBeLessThan(12_000);
    const top = await rows.nth(0).innerText();
    expect(top).toMatch(/open alert/);
    expect(Number(/^(\d+)/.exec(top)?.[1])).toBeGreaterThanOrEqual(5);
    await screenshot(t.page, "monitoring-ward-alert");
    await alert
      .first()
      .getByRole("button", { name: /Acknowledge/ })
      .click();
    const acked = t.page
      .getByRole("list", { name: "Acknowledged alerts" })
      .locator("li", { hasText: "Patient mon-sick" });
    await acked.first().waitFor({ timeout: 5000 });
    expect((await acked.first().innerText()).toLowerCase()).toContain(`by ${short(nurse.address)}`);
    // the node has it acknowledged too
    const list = (await (await (await signIn(web.url, nurse)).get("/monitoring/alerts")).json()) as Array<{
      patient: string;
      acknowledged: { by: string } | null;
    }>;
    const sickAlerts = list.filter((a) => a.patient === "Patient/mon-sick");
    expect(sickAlerts.length).toBeGreaterThan(0);
    expect(sickAlerts.some((a) => a.acknowledged?.by === nurse.address.toLowerCase())).toBe(true);
    await screenshot(t.page, "monitoring-ward-acknowledged");
    expect(await axeViolations(t.page)).toEqual([]);
    await t.page.setViewportSize({ width: 375, height: 800 });
    expect(await scrollsSideways(t.page)).toBe(false);
    await screenshot(t.page, "monitoring-ward-375");
    expect(t.problems).toEqual([]);
  });

  it("a nurse without the patients' consent sees an empty board and no alert", async () => {
    const t = await open();
    await signInWithKey(t.page, strangerKey);
    await t.page.getByRole("link", { name: "Ward board" }).click();
    await t.page.getByText("No monitored patient shares their vital signs with you.").waitFor();
    // the board keeps rereading while readings and the episode's alerts go on
    await t.page.waitForTimeout(4000);
    expect(await t.page.getByText("No monitored patient shares their vital signs with you.").count()).toBe(1);
    expect(await t.page.getByText("No open alerts.").count()).toBe(1);
    const body = await t.page.locator("body").innerText();
    expect(body).not.toContain("mon-sick");
    expect(body).not.toContain("mon-steady");
    await screenshot(t.page, "monitoring-ward-unconsented");
    expect(t.problems).toEqual([]);
  });
});
