import type { Command } from "commander";
import type { Address } from "viem";
import { z } from "zod";
import {
  encodeAuditEntry,
  loggedAuditEntrySchema,
  openedEntry,
  opens,
  type LoggedAuditEntry,
} from "../audit/auditEntry.js";
import { AuditLog } from "../audit/auditLog.js";
import { verifyEntryProof, type EntryProof } from "../audit/entryProof.js";
import type { PatientMapProof } from "../audit/patientMapProof.js";
import { verifyAccessLog } from "../audit/verifyAccessLog.js";
import { verifyLogAgainstChain } from "../audit/verifyAgainstChain.js";
import { createChainClients, type ChainReadClients } from "../chain/clients.js";
import { BaseError } from "../errors/BaseError.js";
import {
  ApiClient,
  loadAccount,
  nodeUrl,
  parseOptions,
  printJson,
  signedInClient,
  withUserOptions,
  type UserOptions,
} from "./apiClient.js";
import { openLedger, openNodeDirectory } from "./operatorContext.js";
import { address } from "../model/schemas.js";

interface AccessLogPage {
  node: Address;
  auditAnchor: Address;
  chainId: number;
  anchoredSize: number;
  items: Array<{ index: number; entry: LoggedAuditEntry; opening?: unknown; proof: EntryProof | null }>;
  mapProof: PatientMapProof | null;
}

type Verdict = { ok: true } | { ok: false; reason: string } | { ok: null; reason: "not-anchored-yet" };

const PAGE = 1000;
const rpcUrl = z
  .string()
  .refine((v) => {
    try {
      return ["http:", "https:"].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, "must be an http(s) JSON-RPC URL")
  .optional();
const chainRpcOption = z.object({ chainRpc: rpcUrl });
/**
 * The part of a node's `/health` that names its ledger: where it is and the contract address, never
 * a root (roots are read from the ledger itself).
 */
const healthSchema = z.object({
  chain: z.object({
    chainId: z.number().int(),
    chainRpcUrl: z.string().optional(),
    contracts: z.object({ AuditAnchor: address }),
  }),
});

/**
 * The ledger a patient checks proofs against: `--rpc`/`--chain-rpc`, else CHAIN_RPC_URL, else the
 * JSON-RPC URL the node's `/health` names. Only the ledger's location comes from the node; a
 * ledger of another chain than the node's is refused, and roots are read from the ledger.
 */
async function ledger(
  option: string | undefined,
  chainId: number | undefined,
  named?: string,
): Promise<ChainReadClients> {
  const { chainRpc } = parseOptions(chainRpcOption, {
    chainRpc: option ?? (process.env.CHAIN_RPC_URL || undefined) ?? named,
  });
  if (!chainRpc) {
    throw new BaseError(
      "invalid",
      "verifying needs the ledger: the node's /health names none; pass --chain-rpc <url> or set CHAIN_RPC_URL",
    );
  }
  const clients = await createChainClients(chainRpc);
  if (chainId !== undefined && clients.chainId !== chainId)
    throw new BaseError(
      "conflict",
      `the ledger is chain ${clients.chainId}, but the node anchors on chain ${chainId}`,
    );
  return clients;
}

async function verdictOf(
  item: { index: number; entry: LoggedAuditEntry; opening?: unknown; proof: EntryProof | null },
  clients: ChainReadClients,
  auditAnchor: Address,
): Promise<Verdict> {
  const shown = loggedAuditEntrySchema.safeParse(item.entry);
  // The opening shown (categories, reason) must open the entry's commitment.
  const opening = item.opening ?? null;
  if (shown.success && opening !== null && !opens(shown.data, opening))
    return { ok: false, reason: "opening-mismatch" };
  if (item.proof === null) return { ok: null, reason: "not-anchored-yet" };
  if (item.proof.index !== item.index || !shown.success || encodeAuditEntry(shown.data) !== item.proof.entry)
    return { ok: false, reason: "entry-differs-from-proof" };
  const v = await verifyEntryProof(item.proof, clients.publicClient, auditAnchor);
  return v.ok ? { ok: true } : { ok: false, reason: v.reason };
}

const chainRpcHelp = "ledger JSON-RPC URL to check roots against (env CHAIN_RPC_URL)";

/** Every page of `/audit/me`, all at the anchored size of the first page. */
async function fetchAccessLog(api: ApiClient): Promise<AccessLogPage> {
  let page = await api.get<AccessLogPage>(`/audit/me?limit=${PAGE}`);
  const pin = page.anchoredSize > 0 ? `&anchoredSize=${page.anchoredSize}` : "";
  const all = { ...page, items: [...page.items] };
  while (page.items.length === PAGE) {
    page = await api.get<AccessLogPage>(
      `/audit/me?limit=${PAGE}${pin}&afterIndex=${page.items.at(-1)!.index}`,
    );
    all.items.push(...page.items);
  }
  return all;
}

/** `carechain audit log|proof|verify`: the access log, its proofs, and the operator's full audit. */
export function registerAuditCommand(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident access log and its proofs");

  withUserOptions(
    audit
      .command("log")
      .description("every access to your record on this node (who, what, when, why, allowed or denied)")
      .option(
        "--verify",
        "check each entry's inclusion proof against the root anchored on the ledger, and that the log shows every entry about you (patient map and prev chain)",
      )
      .option("--rpc <url>", chainRpcHelp)
      .option("--chain-rpc <url>", `${chainRpcHelp} (same as --rpc)`),
  ).action(async (raw: UserOptions & { verify?: boolean; chainRpc?: string; rpc?: string }) => {
    const account = await loadAccount(raw.keystore);
    const api = await ApiClient.signIn(nodeUrl(raw.node), account, { as: "patient", asOrg: raw.asOrg });
    if (!raw.verify) {
      printJson(await fetchAccessLog(api));
      return;
    }
    const health = healthSchema.safeParse(await new ApiClient(nodeUrl(raw.node)).get("/health"));
    const all = await fetchAccessLog(api);
    const clients = await ledger(
      raw.rpc ?? raw.chainRpc,
      all.chainId,
      health.success ? health.data.chain.chainRpcUrl : undefined,
    );
    // An anchor landing while the pages were fetched moves the latest anchored size: fetch again.
    let log = all;
    let completeness = await verifyAccessLog(log, account.address, clients.publicClient, log.auditAnchor);
    for (
      let retry = 0;
      !completeness.ok && completeness.reason === "not-latest-anchor" && retry < 5;
      retry++
    ) {
      await new Promise((r) => setTimeout(r, 500));
      log = await fetchAccessLog(api);
      completeness = await verifyAccessLog(log, account.address, clients.publicClient, log.auditAnchor);
    }
    const items = [];
    let failed = 0;
    for (const item of log.items) {
      const verified = await verdictOf(item, clients, log.auditAnchor);
      if (verified.ok === false) failed++;
      // what the entry says, its categories and reason from the checked opening
      const opened =
        item.opening !== undefined && item.opening !== null && opens(item.entry, item.opening)
          ? openedEntry(item.entry, item.opening)
          : item.entry;
      items.push({ ...item, opened, verified });
    }
    printJson({ ...log, items, completeness });
    if (failed > 0)
      throw new BaseError(
        "conflict",
        `${failed} of ${items.length} entries fail verification against the ledger`,
      );
    if (!completeness.ok)
      throw new BaseError(
        "conflict",
        `the access log is incomplete or altered: ${completeness.reason}${completeness.index === undefined ? "" : ` at entry ${completeness.index}`} (anchored size ${completeness.anchoredSize})`,
      );
  });

  withUserOptions(
    audit
      .command("proof <index>")
      .description("the inclusion proof of one of your entries to a root anchored on the ledger")
      .option("--tree-size <n>", "prove against this anchored tree size (default: the latest)")
      .option("--chain-rpc <url>", `${chainRpcHelp}; verifies the proof when given`),
  ).action(async (indexRaw: string, raw: UserOptions & { treeSize?: string; chainRpc?: string }) => {
    const o = parseOptions(
      z.object({
        index: z.coerce.number().int().min(0, "must be an entry index (0 or more)"),
        treeSize: z.coerce.number().int().min(1, "must be a tree size (1 or more)").optional(),
      }),
      { index: indexRaw, treeSize: raw.treeSize },
    );
    const api = await signedInClient({ as: "patient", ...raw });
    const proof = await api.get<EntryProof>(
      `/audit/entries/${o.index}/proof${o.treeSize ? `?treeSize=${o.treeSize}` : ""}`,
    );
    const rpc = raw.chainRpc ?? (process.env.CHAIN_RPC_URL || undefined);
    if (!rpc) {
      printJson({ proof });
      return;
    }
    const health = healthSchema.safeParse(await new ApiClient(nodeUrl(raw.node)).get("/health"));
    if (!health.success)
      throw new BaseError("unavailable", "the node's /health names no AuditAnchor contract");
    const clients = await ledger(rpc, health.data.chain.chainId);
    const v = await verifyEntryProof(
      proof,
      clients.publicClient,
      health.data.chain.contracts.AuditAnchor as Address,
    );
    printJson({ proof, verified: v.ok ? { ok: true } : { ok: false, reason: v.reason } });
    if (!v.ok)
      throw new BaseError("conflict", `entry ${o.index} fails verification against the ledger: ${v.reason}`);
  });

  audit
    .command("verify")
    .description(
      "node operator: re-check this node's whole stored audit log, its patient chains and patient map against every root it anchored on the ledger",
    )
    .option(
      "--chain-rpc <url>",
      "the ledger (default CHAIN_RPC_URL; for the embedded ledger, a read-only copy of its last state dump)",
    )
    .addHelpText(
      "after",
      `
Opens the node's data directory (--data-dir / CARECHAIN_DATA_DIR, DATABASE_URL) read-only, without
starting the node; it may be running. Roots come from the AuditAnchor contract on the ledger, never
from the node's database. Every patient's prev chain and the patient map are recomputed from
the entry texts and checked against the stored patient column, the persisted patient map and
every anchored and stored map root. With the embedded ledger and no --chain-rpc, a private anvil is started
from <data-dir>/chain/state.json (at most a second behind a running node) and stopped afterwards.
Prints {ok:true,size,anchors} or exits 1 with "audit log diverges at entry <n>: <reason>".`,
    )
    .action(async (raw: { chainRpc?: string }) => {
      const { chainRpc } = parseOptions(chainRpcOption, raw);
      const ctx = await openNodeDirectory(program.opts<{ dataDir?: string }>().dataDir);
      try {
        const chain = await openLedger(ctx, chainRpc);
        try {
          const log = await AuditLog.open(ctx.store);
          const { result, size, anchors } = await verifyLogAgainstChain(
            log,
            chain.publicClient,
            ctx.auditAnchor,
            ctx.node,
          );
          if (!result.ok) {
            throw new BaseError(
              "conflict",
              result.firstBadIndex === undefined
                ? `audit log diverges from the ledger: ${result.reason}`
                : `audit log diverges at entry ${result.firstBadIndex}: ${result.reason}`,
            );
          }
          printJson({
            ok: true,
            size,
            anchors: anchors.length,
            anchoredSize: anchors.at(-1)?.treeSize ?? 0,
            node: ctx.node,
            ledger: chain.source,
          });
        } finally {
          await chain.close();
        }
      } finally {
        await ctx.close();
      }
    });
}
