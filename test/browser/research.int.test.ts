import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import type { Browser } from "playwright-core";
import { intendMint } from "../../src/chain/studyWrites.js";
import {
  derivePayoutAccount,
  signResearchConsent,
  type ResearchConsent,
} from "../../src/research/researchConsent.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";
import { freshDatabase, type FreshDatabase } from "../support/stores.js";
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

const DIABETES = "44054006";
const TITLE = "Type 2 diabetes outcomes";

/** A patient's small record: a Patient (identifying details included) and, if matching, type 2 diabetes. */
function bundleOf(id: string, family: string, diabetic: boolean) {
  const resources = [
    {
      resourceType: "Patient",
      id,
      name: [{ family, given: ["Research"] }],
      gender: "female",
      birthDate: "1962-04-11",
      address: [{ line: [`${family} Lane 7`], city: "Cambridge", state: "MA", postalCode: "02139" }],
    },
    ...(diabetic
      ? [
          {
            resourceType: "Condition",
            id: `${id}-dm`,
            subject: { reference: `Patient/${id}` },
            clinicalStatus: {
              coding: [
                { system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" },
              ],
            },
            code: {
              coding: [{ system: "http://snomed.info/sct", code: DIABETES, display: "Diabetes type 2" }],
            },
          },
        ]
      : []),
  ];
  return {
    resourceType: "Bundle",
    type: "transaction",
    entry: resources.map((resource) => ({
      resource,
      request: { method: "PUT", url: `${resource.resourceType}/${resource.id}` },
    })),
  };
}

/**
 * Issue 18's web pages in Chromium, at a research organization's node: a researcher creates a
 * study (the node's refusal of a bad budget shown at the form), a matching patient sees it (one who
 * does not match does not), enrolls by signing in the browser, the researcher sees the enrollment,
 * a release below k is refused on the page, a second enrollment lets the release through and it
 * downloads as JSON without the patients' names, the patient sees the release and the payout, then
 * withdraws. Every page passes axe-core at 1280 and 375 px without sideways scrolling.
 */
describe("research pages in the browser", { timeout: 120_000 }, () => {
  let web: WebNode;
  let browser: Browser;
  let database: FreshDatabase | undefined;
  let doctor: Session;
  const researcherKey = generatePrivateKey();
  const p1Key = generatePrivateKey();
  const researcher = privateKeyToAccount(researcherKey);
  const doc = privateKeyToAccount(generatePrivateKey());
  const p1 = privateKeyToAccount(p1Key);
  const p2 = privateKeyToAccount(generatePrivateKey());
  const p3 = privateKeyToAccount(generatePrivateKey());
  const opened: TestPage[] = [];
  let studyId: Hex;
  let res: TestPage;
  let pat: TestPage;

  beforeAll(async () => {
    if (process.env.TEST_DATABASE_URL) database = await freshDatabase();
    [web, browser] = await Promise.all([
      startWebNode({ orgKind: "research", databaseUrl: database?.url }),
      launchBrowser(),
    ]);
    await registerParticipants(
      web.node,
      [],
      [
        { account: researcher.address, role: "researcher" },
        { account: doc.address, role: "physician" },
      ],
    );
    const minted = await intendMint(
      web.node.context.outbox,
      web.node.context.key.account.address,
      100_000n,
      "research-web-tests",
    );
    await web.node.services.studyLedger.settled([minted.id]);
    doctor = await signIn(web.url, doc);
    for (const [p, family, diabetic] of [
      [p1, "Ashcombe", true],
      [p2, "Birchall", true],
      [p3, "Carrow", false],
    ] as const) {
      const r = await doctor.send("POST", "/fhir", bundleOf(`rw-${family}`, family, diabetic), undefined, {
        "x-patient-account": p.address,
      });
      expect(r.status, await r.clone().text()).toBe(200);
    }
  }, 240_000);

  afterAll(async () => {
    for (const p of opened) await p.context.close();
    await browser?.close();
    await web?.stop();
    await database?.drop();
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== "fail") return;
    if (res) await screenshot(res.page, `research-failed-researcher`);
    if (pat) await screenshot(pat.page, `research-failed-patient`);
  });

  /** Opens the study again through the app (a reload would end the in-memory session). */
  const openStudy = async () => {
    await res.page.getByRole("link", { name: "Studies", exact: true }).click();
    await res.page.getByRole("link", { name: TITLE }).click();
    await res.page.getByRole("heading", { name: TITLE, level: 1 }).waitFor();
  };
  const openResearch = async () => {
    await pat.page.getByRole("link", { name: "My record" }).click();
    await pat.page.getByRole("link", { name: "Research" }).click();
    await pat.page.getByRole("heading", { name: "Research", level: 1 }).waitFor();
  };

  const open = async () => {
    const p = await openPage(browser, web.url);
    opened.push(p);
    return p;
  };

  it("a researcher creates a study; the node's refusal of a bad budget is shown at the form", async () => {
    res = await open();
    await signInWithKey(res.page, researcherKey);
    await res.page.getByRole("link", { name: "Studies" }).click();
    await res.page.getByRole("heading", { name: "Studies" }).waitFor();
    await res.page.getByRole("link", { name: "New study" }).click();
    const form = res.page.getByRole("form", { name: "New study" });
    await form.getByLabel("Title").fill(TITLE);
    await form.getByLabel("Description").fill("HbA1c and treatment over five years");
    await form.getByLabel("Condition codes").fill(DIABETES);
    await form.getByLabel("Age from").fill("50");
    await form.getByLabel("Age to").fill("80");
    await form.getByLabel("Reward per contribution").fill("2.50");
    await form.getByLabel("Maximum participants").fill("20");
    await form.getByLabel("Minimum k").fill("2");
    // a threshold in a unit UCUM does not know: the node names the rule and the criterion
    await form.getByRole("button", { name: "Add a threshold" }).click();
    const threshold = form.getByRole("group", { name: "Threshold 1" });
    await threshold.getByLabel("LOINC code").fill("4548-4");
    await threshold.getByLabel("Value").fill("6.5");
    await threshold.getByLabel("Unit (UCUM)").fill("furlongs");
    await form.getByRole("button", { name: "Create and register the study" }).click();
    const badUnit = res.page.getByRole("alert").filter({ hasText: "the unit is not a UCUM unit" });
    // above the form and at the criteria it names
    await expect.poll(() => badUnit.count()).toBe(2);
    await screenshot(res.page, "research-new-study-bad-unit");
    await threshold.getByRole("button", { name: "Remove threshold 1" }).click();
    await form.getByLabel("Budget", { exact: true }).fill("10");
    await form.getByRole("button", { name: "Create and register the study" }).click();
    const refusal = res.page.getByRole("alert").filter({ hasText: "did not accept this study" });
    await refusal.waitFor();
    expect(await refusal.innerText()).toContain("the budget is below reward × maxParticipants");
    // and at the field it names
    await expect
      .poll(() => form.getByLabel("Budget", { exact: true }).getAttribute("aria-invalid"))
      .toBe("true");
    await screenshot(res.page, "research-new-study-refused");
    await form.getByLabel("Budget", { exact: true }).fill("50");
    await form.getByRole("button", { name: "Create and register the study" }).click();
    await res.page.waitForURL(/\/clinic\/studies\/0x[0-9a-f]{64}$/);
    studyId = res.page.url().split("/").at(-1) as Hex;
    await res.page.getByText("The study is registered on the ledger and shared with every node").waitFor();
    // the refused create is a failed request Chromium logs; the app itself logged nothing
    res.problems.splice(0, res.problems.length, ...res.problems.filter((p) => !p.includes("400")));
    const enrollment = res.page.getByRole("region", { name: "Enrollment" });
    await expect.poll(() => enrollment.innerText()).toMatch(/Enrolled\s+0 of 20/);
    expect(res.problems).toEqual([]);
  });

  it("the matching patient sees the study and enrolls by signing in the browser; another does not see it", async () => {
    const other = await signIn(web.url, p3);
    const seen = (await (await other.get("/patients/me/studies")).json()) as { matching: unknown[] };
    expect(seen.matching).toEqual([]);

    pat = await open();
    await signInWithKey(pat.page, p1Key);
    await pat.page.getByRole("link", { name: "Research" }).click();
    await pat.page.getByRole("heading", { name: TITLE }).waitFor();
    const body = await pat.page.locator("main").innerText();
    expect(body).toContain("nothing about you leaves it unless you enroll");
    expect(body).toContain("2.50 credits each time your data is part of a release");
    expect(body).toContain("at least 2 participants");
    expect(body).toContain("Aged 50 to 80");
    await screenshot(pat.page, "research-patient-before-enroll");
    await pat.page.getByRole("button", { name: "Sign and enroll" }).click();
    await pat.page.getByText(`You are enrolled in “${TITLE}”`).waitFor();
    const mine = pat.page.getByRole("list", { name: "Your studies" });
    await mine.getByText("enrolled", { exact: true }).waitFor();
    expect(await pat.page.getByRole("list", { name: "Studies you match" }).innerText()).not.toContain(TITLE);
    // the node holds the consent the browser signed, with a payout address only this wallet derives
    const chainId = web.node.context.clients.chainId;
    const payout = await derivePayoutAccount(p1, chainId, studyId);
    const me = await signIn(web.url, p1);
    const { enrollments } = (await (await me.get("/patients/me/studies")).json()) as {
      enrollments: { studyId: string; payout: string }[];
    };
    expect(enrollments.map((e) => [e.studyId.toLowerCase(), e.payout.toLowerCase()])).toEqual([
      [studyId.toLowerCase(), payout.address.toLowerCase()],
    ]);
    await screenshot(pat.page, "research-patient-enrolled");
    expect(pat.problems).toEqual([]);
  });

  it("the researcher sees enrollment 1, and a release below k is refused on the page", async () => {
    await openStudy();
    const enrollment = res.page.getByRole("region", { name: "Enrollment" });
    await expect.poll(() => enrollment.innerText(), { timeout: 20_000 }).toMatch(/Enrolled\s+1 of 20/);
    await res.page.getByRole("button", { name: "Release now" }).click();
    const refused = res.page.getByRole("alert").filter({ hasText: "The release was refused" });
    await refused.waitFor();
    expect(await refused.innerText()).toContain("below the study's minimum k: nothing released");
    await screenshot(res.page, "research-study-below-k");
    expect(await res.page.getByRole("list", { name: "Releases from this node" }).innerText()).toBe("");
    // the refused release is a failed request Chromium logs; the app itself logged nothing
    res.problems.splice(0, res.problems.length, ...res.problems.filter((p) => !p.includes("409")));
    expect(res.problems).toEqual([]);
  });

  it("with a second participant the release goes through and downloads as JSON without names", async () => {
    await enrollByApi(p2);
    await openStudy();
    const enrollment = res.page.getByRole("region", { name: "Enrollment" });
    await expect.poll(() => enrollment.innerText(), { timeout: 20_000 }).toMatch(/Enrolled\s+2 of 20/);
    await res.page.getByRole("button", { name: "Release now" }).click();
    await res.page.getByRole("status").filter({ hasText: "1 node(s) released" }).waitFor();
    const [download] = await Promise.all([
      res.page.waitForEvent("download"),
      res.page.getByRole("button", { name: "Download the merged release (JSON)" }).click(),
    ]);
    const text = readFileSync((await download.path())!, "utf8");
    const release = JSON.parse(text) as { parts: { data: { participants: number } }[] };
    expect(release.parts.map((p) => p.data.participants)).toEqual([2]);
    for (const identifying of ["Ashcombe", "Birchall", "Lane 7", "1962-04-11", p1.address, p2.address])
      expect(text.toLowerCase()).not.toContain(identifying.toLowerCase());
    await res.page
      .getByRole("list", { name: "Releases from this node" })
      .getByText("Extract of 2 participants")
      .waitFor();
    await screenshot(res.page, "research-study-released");
    expect(res.problems).toEqual([]);
  });

  it("the patient sees the release and the payout, then withdraws and is told what stays released", async () => {
    const earnings = pat.page.getByRole("region", { name: "Earnings" });
    await expect
      .poll(
        async () => {
          await openResearch();
          await earnings.getByText("Balance:").waitFor();
          return earnings.innerText();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toContain("Balance: 2.50 credits");
    await pat.page.getByText("Your data was part of 1 release").waitFor();
    expect(await earnings.innerText()).toContain(TITLE);
    await screenshot(pat.page, "research-patient-paid");
    await pat.page.getByRole("button", { name: "Withdraw" }).click();
    const dialog = pat.page.getByRole("dialog", { name: "Withdraw from this study?" });
    expect(await dialog.innerText()).toContain("already released before now stays released");
    await dialog.getByRole("button", { name: "Withdraw" }).click();
    await pat.page.getByText("You have withdrawn.").waitFor();
    const mine = pat.page.getByRole("list", { name: "Your studies" });
    await mine.getByText("withdrawn", { exact: true }).waitFor();
    expect(await mine.innerText()).toContain("What was released before you withdrew stays released");
    await screenshot(pat.page, "research-patient-withdrawn");
    await openStudy();
    await expect
      .poll(() => res.page.getByRole("region", { name: "Enrollment" }).innerText())
      .toContain("1 enrolled, 1 withdrew");
    expect(pat.problems).toEqual([]);
  });

  it("every research page passes axe-core and fits a 375 px phone", async () => {
    const check = async (t: TestPage, name: string, ready: string) => {
      for (const width of [1280, 375]) {
        await t.page.setViewportSize({ width, height: 800 });
        await t.page.getByText(ready).first().waitFor({ timeout: 20_000 });
        await t.page
          .getByRole("status")
          .filter({ hasText: /^\s*Loading / })
          .first()
          .waitFor({ state: "detached" });
        expect(await axeViolations(t.page), `${name} ${width}`).toEqual([]);
        expect(await scrollsSideways(t.page), `${name} ${width}`).toBe(false);
        await screenshot(t.page, `research-${name}-${width}`);
      }
    };
    await openResearch();
    await check(pat, "patient", "Your studies");
    await openStudy();
    await check(res, "study", "Count matching patients");
    await res.page.getByRole("link", { name: "All studies" }).click();
    await check(res, "studies", TITLE);
    await res.page.getByRole("link", { name: "New study" }).click();
    await check(res, "new-study", "Who is eligible");
    expect(opened.flatMap((p) => p.problems)).toEqual([]);
  });

  /** A second patient enrolls through the API with the node's own signing code. */
  async function enrollByApi(p: PrivateKeyAccount) {
    const chainId = web.node.context.clients.chainId;
    const consent: ResearchConsent = {
      patient: p.address,
      studyId,
      organization: web.node.context.organizationId,
      purpose: "HRESCH",
      categories: ["demographics", "conditions"],
      payout: (await derivePayoutAccount(p, chainId, studyId)).address,
      mayWithdraw: true,
      issuedAt: Math.floor(Date.now() / 1000),
    };
    const session = await signIn(web.url, p);
    const r = await session.send("POST", `/patients/me/studies/${studyId}/enroll`, {
      consent,
      signature: await signResearchConsent(p, chainId, consent),
    });
    expect(r.status, await r.clone().text()).toBe(201);
  }
});
