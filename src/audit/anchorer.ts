import type { Address, Hex } from "viem";
import type { IndexedLog } from "../chain/indexer.js";
import type { Outbox } from "../chain/outbox.js";
import type { AuditLog } from "./auditLog.js";
import type { TreeHeadDomain, TreeHeadSigner } from "./treeHead.js";

export interface AnchorerOptions {
  log: AuditLog;
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
 */
export class Anchorer {
  #timer: NodeJS.Timeout | undefined;
  #lastSize = 0;
  #lastAt = 0;
  #busy = false;
  #ready = false;
  /** Outbox key of the last anchor intent until it is confirmed or failed. */
  #inFlight: string | undefined;

  constructor(private readonly o: AnchorerOptions) {}

  /** Starts the periodic check (every min(interval, 200 ms)). */
  async start(): Promise<void> {
    const latest = await this.o.log.latestTreeHead();
    this.#lastSize = latest?.treeSize ?? 0;
    this.#lastAt = Date.now();
    this.#timer = setInterval(() => void this.tick(), Math.min(this.o.intervalMs, 200));
    this.#timer.unref();
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
      const head = await this.o.log.createTreeHead(this.o.signer, this.o.domain);
      const key = `anchor:${head.node.toLowerCase()}:${head.treeSize}`;
      await this.o.outbox.intend({
        key,
        contract: "AuditAnchor",
        functionName: "anchor",
        args: [
          {
            node: head.node,
            treeSize: BigInt(head.treeSize),
            rootHash: head.rootHash,
            timestamp: BigInt(head.timestamp),
          },
          head.signature,
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

  /** Indexer handler: marks this node's tree heads anchored when the ledger says so. */
  readonly onLog = async (log: IndexedLog): Promise<void> => {
    if (log.eventName !== "TreeHeadAnchored") return;
    const args = log.args as { node: Address; treeSize: bigint };
    if (args.node.toLowerCase() !== this.o.signer.address.toLowerCase()) return;
    await this.o.log.markAnchored(Number(args.treeSize), Number(log.blockNumber), log.transactionHash as Hex);
  };
}
