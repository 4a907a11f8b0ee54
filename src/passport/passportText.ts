/**
 * A verification report as a person reads it at a gate: verdict, issuer, patient, facts, checks.
 */
import type { PassportReport } from "./passportReport.js";

/** Renders a report as plain text lines. */
export function reportText(report: PassportReport): string {
  const lines = [
    `${report.valid ? "VALID" : "NOT VALID"} ${report.format === "eu-dcc" ? "EU Digital COVID Certificate" : "SMART Health Card"}${report.reason === null ? "" : ` (${report.reason})`}`,
    `issuer: ${report.issuer.name ?? report.issuer.id ?? "unknown"}${report.issuer.name !== null && report.issuer.id !== null ? ` <${report.issuer.id}>` : ""}${report.issuer.kid === null ? "" : ` kid ${report.issuer.kid}`}`,
  ];
  if (report.patient !== null) {
    lines.push(
      `patient: ${report.patient.name}${report.patient.birthDate === null ? "" : `, born ${report.patient.birthDate}`}`,
    );
  }
  for (const fact of report.facts) {
    const what = [fact.display, fact.code === undefined ? undefined : `${fact.system ?? ""}|${fact.code}`]
      .filter((part) => part !== undefined)
      .join(" ");
    const extra = [
      fact.lotNumber === undefined ? "" : ` lot ${fact.lotNumber}`,
      fact.result === undefined ? "" : ` result ${fact.result}`,
    ].join("");
    lines.push(`  ${fact.kind} ${fact.date ?? ""} ${what}${extra}`.trimEnd());
  }
  if (report.issuedAt !== null)
    lines.push(
      `issued: ${report.issuedAt}${report.expiresAt === null ? "" : `, expires ${report.expiresAt}`}`,
    );
  for (const check of report.checks) {
    const mark = check.status === "pass" ? "ok  " : check.status === "fail" ? "FAIL" : "--  ";
    lines.push(`  ${mark} ${check.name}${check.detail === undefined ? "" : `: ${check.detail}`}`);
  }
  if (report.ledgerCache !== undefined) {
    lines.push(`ledger cache read ${report.ledgerCache.readAt} (${report.ledgerCache.ageSeconds} s old)`);
  }
  return `${lines.join("\n")}\n`;
}
