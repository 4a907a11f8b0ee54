import type { Command } from "commander";
import { keccak256, toHex, type Address, type Hex } from "viem";
import { z } from "zod";
import { Outbox } from "../chain/outbox.js";
import { ParticipantAdmin } from "../chain/participantAdmin.js";
import { ORGANIZATION_KINDS, PRACTITIONER_ROLES } from "../model/vocabulary.js";
import { hexOf, parseOptions, printJson } from "./apiClient.js";
import { openNodeDirectory, type OperatorContext } from "./operatorContext.js";

const WAIT_MS = 60_000;
const account = hexOf(20, "a 0x-prefixed account address");
const bytes32 = hexOf(32, "a 0x-prefixed 32-byte organization id");
const httpUrl = z.string().refine((v) => {
  try {
    return ["http:", "https:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, "must be an http(s) URL");

const addPractitionerOptions = z.object({
  account,
  role: z.enum(PRACTITIONER_ROLES, { error: () => `must be one of ${PRACTITIONER_ROLES.join(", ")}` }),
  org: bytes32.optional(),
  wait: z.boolean().optional(),
});

const registerOptions = z.object({
  /** A bytes32 id, or a name hashed to one (keccak256 of its UTF-8 bytes). */
  id: z
    .string()
    .min(1)
    .max(200)
    .transform((v) => (/^0x[0-9a-fA-F]{64}$/.test(v) ? (v.toLowerCase() as Hex) : keccak256(toHex(v)))),
  name: z.string().min(1).max(200),
  kind: z.enum(ORGANIZATION_KINDS, { error: () => `must be one of ${ORGANIZATION_KINDS.join(", ")}` }),
  endpoint: httpUrl,
  node: account,
  wait: z.boolean().optional(),
});

/** Waits (with --wait) for the running node's relayer to land the intent, then prints it. */
async function report(
  ctx: OperatorContext,
  intent: { id: number },
  wait: boolean | undefined,
  extra: object,
): Promise<void> {
  const outbox = new Outbox(ctx.store);
  if (!wait) {
    printJson({ outboxId: intent.id, status: "pending", ...extra });
    return;
  }
  const row = await outbox.waitFor(intent.id, WAIT_MS);
  printJson({
    outboxId: intent.id,
    status: row.status,
    blockNumber: row.block_number,
    txHash: row.tx_hash,
    ...extra,
  });
}

const operatorHelp = `
Node operator command: opens this node's data directory (--data-dir / CARECHAIN_DATA_DIR,
DATABASE_URL) and writes the intent into the node's ledger outbox. The running node's relayer
signs it with the node's key and submits it (within about half a second); --wait waits for that.
There is no admin HTTP route: only someone with access to the node's data can do this.`;

/** `carechain org register|add-practitioner`: participant-registry writes by the node operator. */
export function registerOrgCommand(program: Command): void {
  const org = program.command("org").description("node operator: organizations and their practitioners");
  const dataDir = () => program.opts<{ dataDir?: string }>().dataDir;

  org
    .command("add-practitioner <account>")
    .description("add a practitioner with a role to this node's organization (or --org)")
    .requiredOption("--role <role>", PRACTITIONER_ROLES.join(", "))
    .option("--org <bytes32>", "the organization (default: this node's)")
    .option("--wait", "wait until the ledger confirms it (the node must be running)")
    .addHelpText("after", operatorHelp)
    .action(async (accountRaw: string, raw: { role?: string; org?: string; wait?: boolean }) => {
      const o = parseOptions(addPractitionerOptions, { ...raw, account: accountRaw });
      const ctx = await openNodeDirectory(dataDir());
      try {
        const organization = o.org ?? ctx.organizationId;
        const intent = await new ParticipantAdmin(new Outbox(ctx.store)).addPractitioner(
          organization,
          o.account as Address,
          o.role,
        );
        await report(ctx, intent, o.wait, { organization, account: o.account, role: o.role });
      } finally {
        await ctx.close();
      }
    });

  org
    .command("register")
    .description("register an organization and its node (consortium governor: the node that deployed)")
    .requiredOption("--id <bytes32|name>", "organization id, or a name hashed to one")
    .requiredOption("--name <name>", "public name of the organization")
    .requiredOption("--kind <kind>", ORGANIZATION_KINDS.join(", "))
    .requiredOption("--endpoint <url>", "the organization's node API URL")
    .requiredOption("--node <address>", "the organization's node account")
    .option("--wait", "wait until the ledger confirms it (the node must be running)")
    .addHelpText("after", operatorHelp)
    .action(async (raw: Record<string, unknown>) => {
      const o = parseOptions(registerOptions, raw);
      const ctx = await openNodeDirectory(dataDir());
      try {
        const intent = await new ParticipantAdmin(new Outbox(ctx.store)).registerOrganization({
          id: o.id,
          name: o.name,
          kind: o.kind,
          endpoint: o.endpoint,
          node: o.node as Address,
        });
        await report(ctx, intent, o.wait, { organization: o.id });
      } finally {
        await ctx.close();
      }
    });
}
