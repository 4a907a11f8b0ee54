import { bytesToHex, type Address, type Hex } from "viem";
import type { IndexedLog } from "../chain/indexer.js";
import type { Outbox } from "../chain/outbox.js";
import type { AuditLog } from "./auditLog.js";
import type { TreeHeadDomain, TreeHeadSigner } from "./treeHead.js";

/** The node's latest anchored head as the ledger holds it. */
export interface LedgerAnchor {
  treeSize: number;
  rootHash: Hex;
  mapRoot: Hex;
}

/** Whether the stored log still extends the node's last anchor on the ledger. */
export type AnchorConsistency =
  | { consistent: true; anchoredSize: number }
  | {
      consistent: false;
      anchoredSize: number;
      reason: "log-shorter-than-anchor" | "root-differs-from-anchor" | "map-root-differs-from-anchor";
    };

export interface AnchorerOptions {
  log: AuditLog;
  /** Reads this node's latest anchor from the AuditAnchor contract (undefined: none yet). */
  ledger: { latest(): Promise<LedgerAnchor | undefined> };
  outbox: Outbox;
  signer: TreeHeadSigner;
  domain: TreeHeadDomain;
  /** Anchor at least this often while the log grows (ms). */
  intervalMs: number;
  /** ...or as soon as this many entries arrived since the last head. */
  maxEntries: number;
  /** Anchoring starts once this resolves true (the node's organization is registered). */
  ready: () => Promise<boolean>;
  logger?: { warn(obj: object, msg?: string): void };
}

/**
 * Anchors the audit log: every interval (or every N entries, whichever first) while the log has
 * grown, it signs a tree head and intends `AuditAnchor.anchor` through the outbox. So the ledger
 * carries at most about one transaction per interval per node, whatever the load. One anchor is
 * in flight at a time: while the last one has not landed (or failed), no new head is signed, and
 * the next one covers everything appended meanwhile. Under a load that slows the relayer, anchors
 * then follow as fast as it lands them instead of queueing heads that are stale when they land.
 *
 * Each intent carries the RFC 9162 consistency proof from the node's last anchor on the ledger,
 * which the contract verifies. Before building one, and once at start, the anchorer checks that
 * the stored log still has the anchored roots at the anchored size; when it does not (the stored
 * log was rewritten), it refuses to anchor and {@link Anchorer.consistency} says why (`/health`).
 */
export class Anchorer {
  #timer: NodeJS.Timeout | undefined;
  #lastSize = 0;
  #lastAt = 0;
  #busy = false;
  #ready = false;
  /** Outbox key of the last anchor intent until it is confirmed or failed. */
  #inFlight: string | undefined;
  #consistency: AnchorConsistency | undefined;
  #warned = false;

  constructor(private readonly o: AnchorerOptions) {}

  /**
   * Starts the periodic check (every min(interval, 200 ms)). An anchor intended by an earlier run
   * and not yet landed is the one in flight: the next head waits for it, so its consistency proof
   * starts from the anchor the ledger will then hold.
   */
  async start(): Promise<void> {
    const latest = await this.o.log.latestTreeHead();
    this.#lastSize = latest?.treeSize ?? 0;
    this.#lastAt = Date.now();
    this.#inFlight = (await this.o.outbox.latestUnsettled(this.#keyPrefix))?.idem_key;
    try {
      await this.check();
    } catch (err) {
      // The ledger may be unreachable for now: each tick checks again before anchoring.
      this.o.logger?.warn({ err }, "could not check the audit log against its last anchor");
    }
    this.#timer = setInterval(() => void this.tick(), Math.min(this.o.intervalMs, 200));
    this.#timer.unref();
  }

  /** The last check of the stored log against the ledger's anchor (undefined: not checked yet). */
  consistency(): AnchorConsistency | undefined {
    return this.#consistency;
  }

  /**
   * Checks that the stored log has, at the size of the node's last anchor, the log root and
   * patient-map root the ledger holds. O(log n) reads, plus a replay of the patient column when
   * the map's version at that size is not in memory.
   * @returns the verdict, also kept for {@link Anchorer.consistency}
   */
  async check(anchor?: LedgerAnchor): Promise<AnchorConsistency> {
    const a = anchor ?? (await this.o.ledger.latest());
    this.#consistency = a === undefined ? { consistent: true, anchoredSize: 0 } : await this.#compare(a);
    if (!this.#consistency.consistent && !this.#warned) {
      this.#warned = true;
      this.o.logger?.warn(
        { anchoredSize: this.#consistency.anchoredSize, reason: this.#consistency.reason },
        "the stored audit log is not consistent with its last anchor on the ledger: anchoring refused",
      );
    }
    return this.#consistency;
  }

  async #compare(a: LedgerAnchor): Promise<AnchorConsistency> {
    const log = this.o.log;
    const at = { anchoredSize: a.treeSize };
    if (log.size() < a.treeSize) return { consistent: false, ...at, reason: "log-shorter-than-anchor" };
    if (bytesToHex(await log.root(a.treeSize)) !== a.rootHash.toLowerCase())
      return { consistent: false, ...at, reason: "root-differs-from-anchor" };
    if ((await log.patientMapRootAt(a.treeSize)) !== a.mapRoot.toLowerCase())
      return { consistent: false, ...at, reason: "map-root-differs-from-anchor" };
    return { consistent: true, ...at };
  }

  /** Stops checking (intents already in the outbox still land). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One check; anchors when due. Returns the tree size anchored, if any. */
  async tick(force = false): Promise<number | undefined> {
    if (this.#busy) return undefined;
    this.#busy = true;
    try {
      if (!this.#ready) this.#ready = await this.o.ready();
      if (!this.#ready) return undefined;
      if (this.#inFlight !== undefined) {
        const row = await this.o.outbox.byKey(this.#inFlight);
        if (row !== undefined && (row.status === "pending" || row.status === "signed")) return undefined;
        this.#inFlight = undefined;
      }
      await this.o.log.flush();
      const size = this.o.log.size();
      if (size <= this.#lastSize) return undefined;
      const due =
        force || Date.now() - this.#lastAt >= this.o.intervalMs || size - this.#lastSize >= this.o.maxEntries;
      if (!due) return undefined;
      const anchored = await this.o.ledger.latest();
      if (!(await this.check(anchored)).consistent) return undefined;
      const head = await this.o.log.createTreeHead(this.o.signer, this.o.domain);
      if (anchored !== undefined && head.treeSize <= anchored.treeSize) return undefined;
      // Derived from committed state only (the stored head, the ledger's last anchor, the log), so
      // an intent re-derived after a crash is the same write.
      const proof =
        anchored === undefined ? [] : await this.o.log.consistencyProof(anchored.treeSize, head.treeSize);
      const key = `${this.#keyPrefix}${head.treeSize}`;
      await this.o.outbox.intend({
        key,
        contract: "AuditAnchor",
        functionName: "anchor",
        args: [
          {
            node: head.node,
            treeSize: BigInt(head.treeSize),
            rootHash: head.rootHash,
            mapRoot: head.mapRoot,
            timestamp: BigInt(head.timestamp),
          },
          head.signature,
          proof.map((p) => bytesToHex(p)),
        ],
      });
      this.#inFlight = key;
      this.#lastSize = head.treeSize;
      this.#lastAt = Date.now();
      return head.treeSize;
    } catch (err) {
      this.o.logger?.warn({ err }, "audit anchoring failed; will retry");
      return undefined;
    } finally {
      this.#busy = false;
    }
  }

  /** Outbox keys of this node's anchors: `anchor:<node>:<tree size>`. */
  get #keyPrefix(): string {
    return `anchor:${this.o.signer.address.toLowerCase()}:`;
  }

  /** Indexer handler: marks this node's tree heads anchored when the ledger says so. */
  readonly onLog = async (log: IndexedLog): Promise<void> => {
    if (log.eventName !== "TreeHeadAnchored") return;
    const args = log.args as { node: Address; treeSize: bigint };
    if (args.node.toLowerCase() !== this.o.signer.address.toLowerCase()) return;
    await this.o.log.markAnchored(Number(args.treeSize), Number(log.blockNumber), log.transactionHash as Hex);
  };
}
