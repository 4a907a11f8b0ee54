/**
 * The patient's own check of their access log, trusting nothing from the node: the roots come
 * from the AuditAnchor contract on the ledger. It checks that the entries shown are genuine (each
 * entry's inclusion proof to the anchored log root) and that they are *all* the entries about the
 * patient up to the anchored size: the patient map's proof against the anchored map root gives
 * the patient's last entry and count, and the walk of the `prev` chain from that entry back must
 * meet only entries shown, and exactly `count` of them. The opening shown with a version 2 entry
 * (its categories and reason) must open the entry's commitment. Runs wherever viem runs (CLI,
 * browser).
 * docs/audit-completeness.md
 */
import type { Address, Hex, PublicClient } from "viem";
import {
  auditOpeningSchema,
  encodeAuditEntry,
  entryLeafHash,
  loggedAuditEntrySchema,
  opens,
  patientKey,
  type AuditFactsOpened,
} from "./auditEntry.js";
import { anchoredRoots, latestAnchor } from "./chainAnchors.js";
import type { EntryProof } from "./entryProof.js";
import { verifyInclusion } from "./inclusionProof.js";
import { toHash } from "./merkleHash.js";
import { verifyPatientMapProof, type PatientMapProof } from "./patientMapProof.js";

/** What `/audit/me` returns (all pages joined, at one anchored size). */
export interface AccessLogDocument {
  node: Address;
  anchoredSize: number;
  items: ReadonlyArray<{ index: number; entry: unknown; opening?: unknown; proof: EntryProof | null }>;
  mapProof: PatientMapProof | null;
}

export type AccessLogFailure =
  | "root-not-anchored"
  | "not-latest-anchor"
  | "map-proof-invalid"
  | "entry-missing"
  | "entry-differs-from-proof"
  | "inclusion-proof-invalid"
  | "entry-not-about-patient"
  | "chain-broken"
  | "count-mismatch"
  | "opening-mismatch";

export type AccessLogVerdict =
  | {
      ok: true;
      /** Every entry about the patient below this size was shown and proven. */
      anchoredSize: number;
      /** Entries about the patient in the log below `anchoredSize` (from the anchored map). */
      count: number;
      /** Shown entries appended after `anchoredSize`: genuine-or-not is decided at the next anchor. */
      notAnchoredYet: number[];
      /** Shown, proven entries outside the patient's chain (stored before patient chains existed). */
      outsideChain: number[];
      /**
       * The categories and reasons of version 2 entries, from openings checked against the
       * entries' commitments (docs/audit-completeness.md), by entry index.
       */
      opened: Record<number, AuditFactsOpened>;
      /** Version 2 entries whose commitment came without an opening (deleted at erasure). */
      unopened: number[];
    }
  | { ok: false; reason: AccessLogFailure; index?: number; anchoredSize: number };

type Reader = Pick<PublicClient, "readContract">;

/**
 * Verifies a patient's access log against the ledger.
 * @param doc - the access log as the node served it
 * @param patient - the patient's own account (or pseudonymous id), never taken from the node
 * @param client - a client of the ledger
 * @param auditAnchor - the AuditAnchor contract
 * @param checked - {@link checkShownEntry}'s answers for the shown entries below the anchored
 *   size, when the caller already checked them against the root anchored at that size (the web
 *   app checks and marks every row first); entries not in it are checked here
 * @returns ok with the proven count, or the first failure (and the entry index it concerns)
 */
export async function verifyAccessLog(
  doc: AccessLogDocument,
  patient: string,
  client: Reader,
  auditAnchor: Address,
  checked?: ReadonlyMap<number, { prev: number | undefined } | AccessLogFailure>,
): Promise<AccessLogVerdict> {
  const size = doc.anchoredSize;
  const fail = (reason: AccessLogFailure, index?: number): AccessLogVerdict =>
    index === undefined
      ? { ok: false, reason, anchoredSize: size }
      : { ok: false, reason, index, anchoredSize: size };
  const latest = await latestAnchor(client, auditAnchor, doc.node);
  if ((latest?.treeSize ?? 0) !== size) return fail("not-latest-anchor");
  const key = patientKey(patient);
  const notAnchoredYet = doc.items.filter((i) => i.index >= size).map((i) => i.index);
  // Every opening shown must open the commitment of the entry it is shown with.
  const opened: Record<number, AuditFactsOpened> = {};
  const unopened: number[] = [];
  for (const item of doc.items) {
    const shown = loggedAuditEntrySchema.safeParse(item.entry);
    if (!shown.success) return fail("entry-differs-from-proof", item.index);
    const hasOpening = item.opening !== undefined && item.opening !== null;
    if (shown.data.commitment === undefined) {
      if (hasOpening) return fail("opening-mismatch", item.index);
      continue;
    }
    if (!hasOpening) unopened.push(item.index);
    else if (!opens(shown.data, item.opening)) return fail("opening-mismatch", item.index);
    else {
      const o = auditOpeningSchema.parse(item.opening);
      opened[item.index] = {
        ...(o.categories === undefined ? {} : { categories: o.categories }),
        ...(o.reason === undefined ? {} : { reason: o.reason }),
      };
    }
  }
  if (size === 0)
    return { ok: true, anchoredSize: 0, count: 0, notAnchoredYet, outsideChain: [], opened, unopened };
  const roots = await anchoredRoots(client, auditAnchor, doc.node, size);
  if (roots === undefined) return fail("root-not-anchored");
  if (doc.mapProof === null) return fail("map-proof-invalid");
  const value = verifyPatientMapProof(roots.mapRoot, key, doc.mapProof);
  if (value === undefined) return fail("map-proof-invalid");

  // Every shown anchored entry must be genuine, whether or not it is on the chain.
  const shown = new Map<number, { prev: number | undefined }>();
  for (const item of doc.items) {
    if (item.index >= size) continue;
    const result = checked?.get(item.index) ?? checkShownEntry(item, size, roots.rootHash, key);
    if (typeof result === "string") return fail(result, item.index);
    shown.set(item.index, result);
  }
  let count = 0;
  const onChain = new Set<number>();
  for (let at = value?.last; at !== undefined;) {
    if (at >= size || count >= (value?.count ?? 0))
      return fail(at >= size ? "chain-broken" : "count-mismatch", at);
    const entry = shown.get(at);
    if (entry === undefined) return fail("entry-missing", at);
    onChain.add(at);
    count++;
    if (entry.prev !== undefined && entry.prev >= at) return fail("chain-broken", at);
    at = entry.prev;
  }
  if (count !== (value?.count ?? 0)) return fail("count-mismatch");
  const outsideChain = [...shown.keys()].filter((i) => !onChain.has(i));
  return { ok: true, anchoredSize: size, count, notAnchoredYet, outsideChain, opened, unopened };
}

/**
 * Checks one shown entry below the anchored size: the entry shown is the one proven, its
 * inclusion proof leads to the anchored log root `root`, and it is about the patient (`key`, from
 * {@link patientKey}). The web app marks each row of the access log with it.
 * @returns its `prev` link, or why it fails
 */
export function checkShownEntry(
  item: { index: number; entry: unknown; proof: EntryProof | null },
  size: number,
  root: Hex,
  key: string,
): { prev: number | undefined } | AccessLogFailure {
  const p = item.proof;
  if (p === null || p.index !== item.index || p.treeSize !== size) return "inclusion-proof-invalid";
  const parsed = loggedAuditEntrySchema.safeParse(tryJson(p.entry));
  if (!parsed.success) return "entry-differs-from-proof";
  const shownEntry = loggedAuditEntrySchema.safeParse(item.entry);
  if (!shownEntry.success || encodeAuditEntry(shownEntry.data) !== p.entry) return "entry-differs-from-proof";
  const path = p.proof.map(toHash);
  const rootBytes = toHash(root);
  if (
    rootBytes === undefined ||
    path.some((h) => h === undefined) ||
    !verifyInclusion(entryLeafHash(p.entry), p.index, size, path as Uint8Array[], rootBytes)
  )
    return "inclusion-proof-invalid";
  if (parsed.data.patient === undefined || patientKey(parsed.data.patient) !== key)
    return "entry-not-about-patient";
  return { prev: parsed.data.prev };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
