import type { Command } from "commander";
import { z } from "zod";
import { SmartService } from "../smart/smartService.js";
import { parseOptions, printJson } from "./apiClient.js";
import { openNodeDirectory } from "./operatorContext.js";

const registerOptions = z.object({
  name: z.string().min(1).max(200),
  redirectUri: z.array(z.string().min(1).max(2048)).min(1).max(10),
  scope: z.string().min(1).max(4096),
  confidential: z.boolean().optional(),
});

/** `carechain smart register`: the node operator registers a SMART app (docs/smart-on-fhir.md). */
export function registerSmartCommand(program: Command): void {
  const smart = program.command("smart").description("node operator: SMART on FHIR apps");
  const dataDir = () => program.opts<{ dataDir?: string }>().dataDir;
  smart
    .command("register")
    .description("register a SMART app; prints its client id (and secret, once, for a confidential app)")
    .requiredOption("--name <name>", "the app's name, shown to users when they approve it")
    .requiredOption(
      "--redirect-uri <uri>",
      "an exact redirect URI (repeat for several)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .requiredOption(
      "--scope <scopes>",
      'the most the app may be granted, e.g. "launch/patient patient/*.rs offline_access"',
    )
    .option("--confidential", "a confidential app (gets a client secret); default: public, PKCE only")
    .addHelpText(
      "after",
      "\nOpens this node's data directory (--data-dir / CARECHAIN_DATA_DIR, DATABASE_URL) and writes the app into its database; running API processes see it at once.",
    )
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(registerOptions, raw);
      const ctx = await openNodeDirectory(dataDir());
      try {
        const service = new SmartService({ store: ctx.store, fhirBaseUrl: "" });
        printJson(
          await service.register({
            name: o.name,
            confidential: o.confidential === true,
            redirectUris: o.redirectUri,
            scope: o.scope,
          }),
        );
      } finally {
        await ctx.close();
      }
    });
}
