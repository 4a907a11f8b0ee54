#!/usr/bin/env node
import { Command, Option } from "commander";
import { reportCliError } from "./exit.js";
import { registerStartCommand } from "./startCommand.js";
import { registerKeysCommand } from "./keysCommand.js";
import { registerConsentCommand } from "./consentCommand.js";
import { registerRecordCommand } from "./recordCommand.js";
import { registerPatientCommand } from "./patientCommand.js";
import { registerAuditCommand } from "./auditCommand.js";
import { registerOrgCommand } from "./orgCommand.js";
import { registerSmartCommand } from "./smartCommand.js";
import { registerCdsCommand } from "./cdsCommand.js";
import { registerDemoCommand } from "./demoCommand.js";
import { registerMonitorCommand } from "./monitorCommand.js";
import { registerPassportCommand } from "./passportCommand.js";
import { registerResearchCommand } from "./researchCommand.js";
import { registerResearchCreditsCommand } from "./researchCreditsCommand.js";

/** The `carechain` command line: a thin shell over the same functions the API uses. */
export function buildCli(): Command {
  const program = new Command()
    .name("carechain")
    .description("Patient-controlled health records on a permissioned EVM ledger")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addOption(new Option("--data-dir <dir>", "data directory").env("CARECHAIN_DATA_DIR"));
  registerStartCommand(program);
  registerKeysCommand(program);
  registerDemoCommand(program);
  registerConsentCommand(program);
  registerRecordCommand(program);
  registerPatientCommand(program);
  registerAuditCommand(program);
  registerOrgCommand(program);
  registerSmartCommand(program);
  registerPassportCommand(program);
  registerCdsCommand(program);
  registerMonitorCommand(program);
  registerResearchCommand(program);
  registerResearchCreditsCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    const e = error as { code?: string; exitCode?: number };
    if (
      e.code === "commander.helpDisplayed" ||
      e.code === "commander.version" ||
      e.code === "commander.help"
    ) {
      process.exitCode = 0;
      return;
    }
    process.exitCode = reportCliError(error);
  }
}

await main(process.argv);
