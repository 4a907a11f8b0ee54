/**
 * The browser's own check of the patient's access log. The roots come from the AuditAnchor
 * contract, read over JSON-RPC straight from the ledger (viem public client), never from the node.
 * Each row is checked with the same code the CLI uses (src/audit/verifyAccessLog.ts): the entry
 * shown is the one proven, its inclusion proof leads to the anchored root, it is about the patient,
 * and the opening shown (categories, reason) opens its commitment. Then the completeness check:
 * the patient map's proof against the anchored map root and the walk of the `prev` chain show that
 * no entry about the patient was left out. docs/web-app.md, docs/audit-completeness.md
 */
import { createPublicClient, http, type Address, type Hex, type PublicClient } from "viem";
import {
  loggedAuditEntrySchema,
  opens,
  patientKey,
  type AuditFactsOpened,
} from "../../../src/audit/auditEntry.js";
import { anchoredRoots } from "../../../src/audit/chainAnchors.js";
import type { EntryProof } from "../../../src/audit/entryProof.js";
import type { PatientMapProof } from "../../../src/audit/patientMapProof.js";
import {
  checkShownEntry,
  verifyAccessLog,
  type AccessLogVerdict,
} from "../../../src/audit/verifyAccessLog.js";
import type { Api } from "../api/client.js";

export interface AccessLogItem {
  index: number;
  entry: unknown;
  opening?: unknown;
  proof: EntryProof | null;
}

export interface AccessLogPage {
  node: Address;
  auditAnchor: Address;
  chainId: number;
  anchoredSize: number;
  items: AccessLogItem[];
  mapProof: PatientMapProof | null;
}

export type RowVerdict =
  | { state: "verified"; opened?: AuditFactsOpened }
  | { state: "failed"; reason: string }
  | { state: "pending"; reason: string };

export interface LogVerification {
  rows: Map<number, RowVerdict>;
  completeness: AccessLogVerdict;
  /** The anchored root the rows were checked against, as the ledger returned it. */
  root?: Hex;
  ms: number;
}

const PAGE = 1000;

/** Every page of `/audit/me`, all at the anchored size of the first page (as the CLI fetches it). */
export async function fetchAccessLog(api: Api): Promise<AccessLogPage> {
  let page = await api.get<AccessLogPage>(`/audit/me?limit=${PAGE}`);
  const pin = page.anchoredSize > 0 ? `&anchoredSize=${page.anchoredSize}` : "";
  const all = { ...page, items: [...page.items] };
  while (page.items.length === PAGE) {
    page = await api.get<AccessLogPage>(
      `/audit/me?limit=${PAGE}${pin}&afterIndex=${page.items.at(-1)?.index ?? -1}`,
    );
    all.items.push(...page.items);
  }
  return all;
}

/** A client of the ledger at `rpcUrl` (the URL the node's /app/config names; CSP allows only it). */
export function ledgerClient(rpcUrl: string): Pick<PublicClient, "readContract"> {
  return createPublicClient({ transport: http(rpcUrl, { retryCount: 1, timeout: 15_000 }) });
}

const REASONS: Record<string, string> = {
  "inclusion-proof-invalid": "its proof does not lead to the root anchored on the ledger",
  "entry-differs-from-proof": "the entry shown differs from the entry proven",
  "entry-not-about-patient": "the entry proven is not about you",
  "opening-mismatch": "its details do not match what the log committed to",
};

/** Why a row or the log failed, in words. */
export function failureWords(reason: string): string {
  const words: Record<string, string> = {
    ...REASONS,
    "root-not-anchored": "the node's log root is not anchored on the ledger",
    "not-latest-anchor": "the node did not show its latest anchored log (reload to try again)",
    "map-proof-invalid": "the proof of how many entries are about you does not match the ledger",
    "entry-missing": "an entry about you is missing from what the node showed",
    "chain-broken": "the chain linking your entries is broken",
    "count-mismatch": "the number of entries about you differs from the ledger's",
  };
  return words[reason] ?? reason;
}

/**
 * Checks every row against the roots anchored at the log's anchored size. Pure but for the
 * ledger read; rows appended after the anchored size are pending (checked after the next anchor).
 */
export function verifyRows(
  log: AccessLogPage,
  patient: string,
  root: Hex | undefined,
  checks = new Map<number, ReturnType<typeof checkShownEntry>>(),
): Map<number, RowVerdict> {
  const key = patientKey(patient);
  const rows = new Map<number, RowVerdict>();
  for (const item of log.items) {
    const shown = loggedAuditEntrySchema.safeParse(item.entry);
    const hasOpening = item.opening !== undefined && item.opening !== null;
    if (!shown.success) {
      rows.set(item.index, { state: "failed", reason: REASONS["entry-differs-from-proof"] ?? "" });
      continue;
    }
    if (hasOpening && (shown.data.commitment === undefined || !opens(shown.data, item.opening))) {
      rows.set(item.index, { state: "failed", reason: REASONS["opening-mismatch"] ?? "" });
      continue;
    }
    if (item.index >= log.anchoredSize) {
      rows.set(item.index, { state: "pending", reason: "not anchored on the ledger yet" });
      continue;
    }
    if (root === undefined) {
      rows.set(item.index, { state: "failed", reason: "no root for this log is anchored on the ledger" });
      continue;
    }
    const checked = checkShownEntry(item, log.anchoredSize, root, key);
    checks.set(item.index, checked);
    if (typeof checked === "string")
      rows.set(item.index, { state: "failed", reason: REASONS[checked] ?? checked });
    else {
      const o = hasOpening ? (item.opening as AuditFactsOpened) : undefined;
      rows.set(item.index, {
        state: "verified",
        ...(o
          ? {
              opened: {
                ...(o.categories ? { categories: o.categories } : {}),
                ...(o.reason ? { reason: o.reason } : {}),
              },
            }
          : {}),
      });
    }
  }
  return rows;
}

/** Reads the anchored roots from the ledger, checks every row and the log's completeness. */
export async function verifyLog(
  log: AccessLogPage,
  patient: string,
  ledger: Pick<PublicClient, "readContract">,
): Promise<LogVerification> {
  const started = performance.now();
  performance.mark("carechain:verify-start");
  const roots =
    log.anchoredSize > 0
      ? await anchoredRoots(ledger, log.auditAnchor, log.node, log.anchoredSize)
      : undefined;
  const checks = new Map<number, ReturnType<typeof checkShownEntry>>();
  const rows = verifyRows(log, patient, roots?.rootHash, checks);
  const completeness = await verifyAccessLog(log, patient, ledger, log.auditAnchor, checks);
  performance.measure("carechain:verify-access-log", "carechain:verify-start");
  return { rows, completeness, ...(roots ? { root: roots.rootHash } : {}), ms: performance.now() - started };
}
