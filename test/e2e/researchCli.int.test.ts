import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeKeystoreFile } from "../../src/crypto/keystore.js";
import { derivePayoutAccount } from "../../src/research/researchConsent.js";
import { runCli, type CliResult } from "../support/cli.js";
import { syntheticPatient } from "../support/researchCohort.js";
import { diabetesStudy, recordPatient, researchConsortium } from "../support/researchConsortium.js";

const PASSWORD = "research-cli-password";

const json = <T = Record<string, unknown>>(r: CliResult): T => {
  if (r.code !== 0) throw new Error(`CLI failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

/**
 * `carechain research …` in child processes against a research organization's node: the
 * researcher creates a study from a file (and gets one-line errors with exit code 2 for a bad
 * one), a matching patient finds it, enrolls with a consent their wallet signs (the payout address
 * is the one their key derives for the study), cannot enroll twice, withdraws and reads their
 * balance; a patient who does not match does not see it; the researcher lists, shows and closes it.
 */
describe("carechain research CLI", () => {
  const c = researchConsortium();
  const dir = mkdtempSync(join(tmpdir(), "carechain-research-cli-"));
  const matching = syntheticPatient(0, "cli", true);
  const other = syntheticPatient(1, "cli", false);
  const keystore = (who: string) => join(dir, `${who}.json`);
  let env: NodeJS.ProcessEnv;
  const cli = (who: string, args: string[]) =>
    runCli(["research", ...args], { ...env, CARECHAIN_KEYSTORE: keystore(who) });
  let studyId: Hex;

  beforeAll(async () => {
    await writeKeystoreFile(keystore("researcher"), c.researcherKey, PASSWORD, { n: 2 ** 10 });
    await writeKeystoreFile(keystore("matching"), matching.privateKey, PASSWORD, { n: 2 ** 10 });
    await writeKeystoreFile(keystore("other"), other.privateKey, PASSWORD, { n: 2 ** 10 });
    await recordPatient(c.doctors.R, matching);
    await recordPatient(c.doctors.R, other);
    env = { CARECHAIN_NODE: c.R.url, CARECHAIN_PASSWORD: PASSWORD, CHAIN_RPC_URL: "", DATABASE_URL: "" };
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a study from a file; a bad definition is one line naming the rule, exit code 2", async () => {
    writeFileSync(join(dir, "bad.json"), JSON.stringify(diabetesStudy({ budget: 100 })));
    const bad = await cli("researcher", ["study", "create", "--file", join(dir, "bad.json")]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/budget/);

    writeFileSync(join(dir, "study.json"), JSON.stringify(diabetesStudy({ minK: 2 })));
    const created = json<{ studyId: Hex }>(
      await cli("researcher", ["study", "create", "--file", join(dir, "study.json")]),
    );
    expect(created.studyId).toMatch(/^0x[0-9a-f]{64}$/i);
    studyId = created.studyId;

    const list = json<{ studies: { studyId: Hex }[] }>(await cli("researcher", ["study", "list"]));
    expect(list.studies.map((s) => s.studyId.toLowerCase())).toContain(studyId.toLowerCase());
  });

  it("shows the study to the patient it matches and not to another", async () => {
    const mine = json<{ matching: { studyId: Hex }[] }>(await cli("matching", ["studies"]));
    expect(mine.matching.map((s) => s.studyId.toLowerCase())).toContain(studyId.toLowerCase());
    const theirs = json<{ matching: { studyId: Hex }[] }>(await cli("other", ["studies"]));
    expect(theirs.matching.map((s) => s.studyId.toLowerCase())).not.toContain(studyId.toLowerCase());
    const refused = await cli("other", ["enroll", studyId]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not open to you/);
  });

  it("enrolls with the wallet's signed consent at the payout address it derives, once", async () => {
    const enrolled = json<{ studyId: Hex; payout: Hex; withdrawnAt: string | null }>(
      await cli("matching", ["enroll", studyId]),
    );
    const payout = await derivePayoutAccount(matching.account, c.chainId, studyId);
    expect(enrolled.payout.toLowerCase()).toBe(payout.address.toLowerCase());
    expect(enrolled.withdrawnAt).toBeNull();

    const again = await cli("matching", ["enroll", studyId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already enrolled/);

    const shown = json<{ studyId: Hex; here: { enrolled: number; withdrawn: number } }>(
      await cli("researcher", ["study", "show", studyId]),
    );
    expect(shown.studyId.toLowerCase()).toBe(studyId.toLowerCase());
    expect(shown.here).toEqual({ enrolled: 1, withdrawn: 0 });
  });

  it("withdraws, shows a zero balance without a release, and the researcher closes the study", async () => {
    const withdrawn = json<{ withdrawnAt: string | null }>(await cli("matching", ["withdraw", studyId]));
    expect(withdrawn.withdrawnAt).not.toBeNull();
    const earnings = json<{ balance: string; studies: { studyId: string }[] }>(
      await cli("matching", ["balance"]),
    );
    expect(earnings.balance).toBe("0");
    expect(earnings.studies.map((s) => s.studyId.toLowerCase())).toContain(studyId.toLowerCase());

    const notMine = await cli("matching", ["study", "close", studyId]);
    expect(notMine.code).toBe(4);
    const closed = json<{ studyId: Hex }>(await cli("researcher", ["study", "close", studyId]));
    expect(closed.studyId.toLowerCase()).toBe(studyId.toLowerCase());
  });
});
