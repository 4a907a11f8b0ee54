import { randomUUID } from "node:crypto";
import type { Command } from "commander";
import type { Address } from "viem";
import { z } from "zod";
import { Outbox } from "../chain/outbox.js";
import { intendMint } from "../chain/studyWrites.js";
import { BaseError } from "../errors/BaseError.js";
import { ADDRESS_PATTERN, BYTES32_PATTERN } from "../model/schemas.js";
import { getMeta } from "../store/meta.js";
import { parseOptions, printJson } from "./apiClient.js";
import { openNodeDirectory, type OperatorContext } from "./operatorContext.js";

const WAIT_MS = 60_000;

const mintOptions = z.object({
  to: z
    .string()
    .refine(
      (v) => ADDRESS_PATTERN.test(v) || BYTES32_PATTERN.test(v),
      "must be a node address or a 32-byte organization id",
    ),
  /** Credits with at most two decimals (CareCredit has two): "12.5" is 1250 units. */
  amount: z
    .string()
    .regex(/^\d{1,15}(\.\d{1,2})?$/, "must be a positive number of credits with at most two decimals")
    .transform((v) => {
      const [whole = "0", cents = ""] = v.split(".");
      return BigInt(whole) * 100n + BigInt(cents.padEnd(2, "0"));
    })
    .refine((units) => units > 0n, "must be more than zero"),
  reference: z
    .string()
    .regex(/^[A-Za-z0-9:._-]{1,128}$/, "must be 1 to 128 letters, digits or : . _ -")
    .optional(),
  wait: z.boolean().optional(),
});

/**
 * The `research` command group, made here or found when another module made it first: the
 * research room's commands (study, enroll, release, balance) and the credits commands share it.
 */
export function researchCommandOf(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "research") ??
    program.command("research").description("research studies: credits, studies, enrollment, releases")
  );
}

/** `carechain research credits mint`: the consortium governor mints CareCredit to an organization's node. */
export function registerResearchCreditsCommand(program: Command): void {
  const credits = researchCommandOf(program)
    .command("credits")
    .description("node operator: CareCredit, the credits studies pay in");
  credits
    .command("mint")
    .description("mint credits to an organization's node (consortium governor: the node that deployed)")
    .requiredOption("--to <address|bytes32>", "the receiving node's address, or its organization id")
    .requiredOption("--amount <credits>", "credits to mint (two decimals: 12.5 is 1250 units)")
    .option("--reference <id>", "makes the mint idempotent: a retry with the same reference mints once")
    .option("--wait", "wait until the ledger confirms it (the node must be running)")
    .addHelpText(
      "after",
      `
Node operator command: opens this node's data directory (--data-dir / CARECHAIN_DATA_DIR,
DATABASE_URL) and writes the mint into the node's ledger outbox; the running node's relayer signs it
with the node's key. Only the consortium governor (the node that deployed the contracts) holds
CareCredit's MINTER_ROLE. Without --reference a fresh one is drawn and printed: pass it again to
retry the same mint safely.`,
    )
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(mintOptions, raw);
      const ctx = await openNodeDirectory(program.opts<{ dataDir?: string }>().dataDir);
      try {
        await assertGovernor(ctx);
        const to = await nodeOf(ctx, o.to);
        const reference = o.reference ?? randomUUID();
        const outbox = new Outbox(ctx.store);
        const intent = await intendMint(outbox, to, o.amount, reference);
        const extra = { to, units: o.amount.toString(), reference, created: intent.created };
        if (!o.wait) {
          printJson({ outboxId: intent.id, status: "pending", ...extra });
          return;
        }
        const row = await outbox.waitFor(intent.id, WAIT_MS);
        printJson({ outboxId: intent.id, status: row.status, blockNumber: row.block_number, ...extra });
      } finally {
        await ctx.close();
      }
    });
}

async function assertGovernor(ctx: OperatorContext): Promise<void> {
  const stored = await getMeta(ctx.store.db, "chain.deployment");
  const deployedHere =
    stored !== undefined && (JSON.parse(stored) as { deployedHere?: boolean }).deployedHere;
  if (!deployedHere)
    throw new BaseError(
      "forbidden",
      "only the consortium governor (the node that deployed the contracts) mints credits",
    );
}

/** The node account of `to`: itself when an address, the registered node of the organization when an id. */
async function nodeOf(ctx: OperatorContext, to: string): Promise<Address> {
  if (ADDRESS_PATTERN.test(to)) return to as Address;
  const org = await ctx.store.db
    .selectFrom("organizations")
    .select("node_address")
    .where("id", "=", to.toLowerCase())
    .executeTakeFirst();
  if (!org) throw new BaseError("not-found", "--to names no organization this node knows");
  return org.node_address as Address;
}
