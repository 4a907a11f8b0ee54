// Every published SMART Health Card and EU DCC conformance case gives its expected outcome through
// `carechain passport verify` (the command's action in-process for every file form, and the real
// binary for a valid and an invalid case).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPassportVerify } from "../../src/cli/passportCommand.js";
import type { PassportReport } from "../../src/passport/passportReport.js";
import { runCli } from "../support/cli.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "passport");
const SHC = join(FIXTURES, "shc");
const DCC = join(FIXTURES, "dcc");

interface ShcCase {
  id: string;
  expected: "valid" | "invalid";
  reason: string | null;
  files: Record<string, string | string[]>;
  expect: {
    iss: string;
    patient: { display: string; birthDate: string } | null;
    vaccine_codes: string[];
  } | null;
}
const shcCases = JSON.parse(readFileSync(join(SHC, "cases.json"), "utf8")) as {
  trust_jwks: string;
  crl: string;
  cases: ShcCase[];
};

interface DccCase {
  id: string;
  file: string;
  validation_clock: string;
  expected: "valid" | "invalid";
  reason: string | null;
  dsc_pem: string;
  holder: { dob: string; fn?: string };
}
const dccCases = JSON.parse(readFileSync(join(DCC, "cases.json"), "utf8")) as { cases: DccCase[] };

function verify(
  inputs: string[],
  options: Record<string, unknown>,
): { code: number; reports: PassportReport[] } {
  let output = "";
  const code = runPassportVerify(inputs, { ...options, json: true }, (text) => (output += text));
  return { code, reports: (JSON.parse(output) as { reports: PassportReport[] }).reports };
}

const SHC_FORMS = [
  "jws",
  "smart_health_card",
  "shc_txt",
  "shc_txt_all_chunks",
  "shc_txt_chunks",
  "qr_png",
] as const;
const shcTrust = [join(SHC, shcCases.trust_jwks), join(SHC, shcCases.crl)];

describe("SMART Health Cards conformance through carechain passport verify", () => {
  for (const testCase of shcCases.cases) {
    for (const form of SHC_FORMS) {
      const files = testCase.files[form];
      if (files === undefined) continue;
      it(`${testCase.id} as ${form} is ${testCase.expected}${testCase.reason === null ? "" : ` (${testCase.reason})`}`, () => {
        const paths = (Array.isArray(files) ? files : [files]).map((file) => join(SHC, file));
        const { code, reports } = verify(paths, { trust: shcTrust });
        expect(reports).toHaveLength(1);
        const [report] = reports as [PassportReport];
        expect(report.valid).toBe(testCase.expected === "valid");
        expect(code).toBe(testCase.expected === "valid" ? 0 : 1);
        expect(report.reason).toBe(testCase.reason);
        if (testCase.expected === "valid" && testCase.expect !== null) {
          expect(report.issuer.id).toBe(testCase.expect.iss);
          expect(report.patient).toEqual(
            testCase.expect.patient === null
              ? null
              : { name: testCase.expect.patient.display, birthDate: testCase.expect.patient.birthDate },
          );
          expect(
            report.facts.filter((fact) => fact.kind === "immunization").map((fact) => fact.code),
          ).toEqual(testCase.expect.vaccine_codes);
          expect(report.checks.map((check) => check.status)).not.toContain("fail");
        }
      });
    }
  }

  it("the unknown-key card verifies against its own issuer's keys: only the trust decision failed", () => {
    const { code, reports } = verify([join(SHC, "invalid/unknown-key.jws")], {
      trust: [join(SHC, "invalid/untrusted-issuer.jwks.json")],
    });
    expect(code).toBe(0);
    expect(reports[0]?.valid).toBe(true);
  });

  it("without the CRL the revoked card shows a good signature: revocation is what fails it", () => {
    const { reports } = verify([join(SHC, "invalid/example-03-revoked.jws")], {
      trust: [join(SHC, shcCases.trust_jwks)],
    });
    expect(reports[0]?.valid).toBe(true);
    const withCrl = verify([join(SHC, "invalid/example-03-revoked.jws")], { trust: shcTrust });
    expect(withCrl.reports[0]?.checks.find((check) => check.name === "card-not-revoked")?.status).toBe(
      "fail",
    );
    expect(withCrl.reports[0]?.checks.find((check) => check.name === "signature")?.status).toBe("pass");
  });

  it("the expired card is valid on a day before its exp", () => {
    const { code } = verify([join(SHC, "invalid/expired.jws")], {
      trust: shcTrust,
      now: "2025-06-01T00:00:00Z",
    });
    expect(code).toBe(0);
  });
});

describe("EU DCC conformance through carechain passport verify at each VALIDATIONCLOCK", () => {
  for (const testCase of dccCases.cases) {
    const expectedReason = testCase.reason === null ? null : (testCase.reason.split(" ")[0] ?? null);
    it(`${testCase.id} is ${testCase.expected}${expectedReason === null ? "" : ` (${expectedReason})`}`, () => {
      const raw = JSON.parse(readFileSync(join(DCC, testCase.file), "utf8")) as { PREFIX: string };
      const { code, reports } = verify([raw.PREFIX], {
        trust: [join(DCC, testCase.dsc_pem)],
        now: testCase.validation_clock,
      });
      const [report] = reports as [PassportReport];
      expect(report.format).toBe("eu-dcc");
      expect(report.reason).toBe(expectedReason);
      expect(code).toBe(testCase.expected === "valid" ? 0 : 1);
      if (testCase.expected === "valid") {
        expect(report.patient?.birthDate).toBe(testCase.holder.dob);
        expect(report.facts.length).toBeGreaterThan(0);
      }
    });
  }

  it("a folder of DSC certificates is a trust list: every valid case verifies against all of them", () => {
    for (const testCase of dccCases.cases.filter((candidate) => candidate.expected === "valid")) {
      const raw = JSON.parse(readFileSync(join(DCC, testCase.file), "utf8")) as { PREFIX: string };
      const { code } = verify([raw.PREFIX], { trust: [join(DCC, "trust")], now: testCase.validation_clock });
      expect(code, testCase.id).toBe(0);
    }
  });

  it("every DCC case is expired at today's clock", () => {
    const raw = JSON.parse(readFileSync(join(DCC, "cases/DE-1.json"), "utf8")) as { PREFIX: string };
    const { code, reports } = verify([raw.PREFIX], { trust: [join(DCC, "trust")] });
    expect(code).toBe(1);
    expect(reports[0]?.reason).toBe("expired");
  });
});

describe("the carechain binary", () => {
  it("exits 0 on a valid card and 1 on a revoked one, printing the report", async () => {
    const valid = await runCli([
      "passport",
      "verify",
      join(SHC, "valid/example-00-covid-vaccines.qr.png"),
      "--trust",
      join(SHC, "issuer"),
    ]);
    expect(valid.stdout).toContain("VALID SMART Health Card");
    expect(valid.stdout).toContain("patient: John B. Anyperson, born 1951-01-20");
    expect(valid.code).toBe(0);
    const revoked = await runCli([
      "passport",
      "verify",
      join(SHC, "invalid/example-03-revoked.smart-health-card"),
      "--trust",
      join(SHC, "issuer"),
    ]);
    expect(revoked.stdout).toContain("NOT VALID SMART Health Card (revoked)");
    expect(revoked.code).toBe(1);
  });
});
