import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { CdsClientRegistry } from "../guidance/cdsClients.js";
import { parseOptions, printJson } from "./apiClient.js";
import { openNodeDirectory } from "./operatorContext.js";

const addOptions = z.object({
  iss: z.string().min(1).max(2048),
  jwks: z.string().min(1),
  name: z.string().min(1).max(200).optional(),
});

/** `carechain cds client add|list|remove`: the node operator decides which EHRs may call its CDS Hooks service. */
export function registerCdsCommand(program: Command): void {
  const cds = program.command("cds").description("node operator: CDS Hooks clients (EHRs)");
  const client = cds.command("client").description("the CDS clients this node trusts");
  const dataDir = () => program.opts<{ dataDir?: string }>().dataDir;
  const withRegistry = async <T>(fn: (registry: CdsClientRegistry) => Promise<T>): Promise<T> => {
    const ctx = await openNodeDirectory(dataDir());
    try {
      return await fn(new CdsClientRegistry(ctx.store.db, ctx.store.dialect));
    } finally {
      await ctx.close();
    }
  };
  client
    .command("add")
    .description(
      "trust a CDS client: its JWT issuer and its public JWK Set (replaces the keys of a known issuer)",
    )
    .requiredOption("--iss <uri>", "the issuer (iss) of the client's JWTs")
    .requiredOption("--jwks <file>", "a JSON file with the client's public JWK Set")
    .option("--name <name>", "a name for this list")
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(addOptions, raw);
      let jwks: unknown;
      try {
        jwks = JSON.parse(readFileSync(o.jwks, "utf8"));
      } catch {
        throw new BaseError("invalid", "--jwks must name a readable JSON file", { expression: "--jwks" });
      }
      printJson(await withRegistry((r) => r.add(o.iss, o.name ?? o.iss, jwks)));
    });
  client
    .command("list")
    .description("the trusted CDS clients")
    .action(async () => printJson(await withRegistry((r) => r.list())));
  client
    .command("remove")
    .description("stop trusting a CDS client")
    .requiredOption("--iss <uri>", "the issuer to remove")
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(z.object({ iss: z.string().min(1).max(2048) }), raw);
      const removed = await withRegistry((r) => r.remove(o.iss));
      if (!removed)
        throw new BaseError("not-found", "no CDS client with this issuer", { expression: "--iss" });
      printJson({ removed: o.iss });
    });
}
