/**
 * The naive design carechain is compared with: every access event is its own ledger
 * transaction. Each event is anchored as a one-entry-larger signed tree head through
 * `AuditAnchor.anchor` (the same contract, signature check and storage as carechain's anchors),
 * signed locally and sent raw, and the sender waits for the receipt before it reports the event
 * durable. A few senders run concurrently from one account; the nonce and the tree size are taken
 * together, so the ledger mines them in order. This is the most favourable version of the naive
 * design: no gas estimation, no fee lookup, receipts polled every 2 ms. Each head carries the
 * consistency proof from the one before, as the contract requires.
 */
import { bytesToHex, encodeFunctionData, type Address, type LocalAccount, type PublicClient } from "viem";
import { buildConsistencyProof } from "../../src/audit/consistencyProof.js";
import { EMPTY_MAP_ROOT } from "../../src/audit/patientMapProof.js";
import { foldSubtrees, type NodeSource } from "../../src/audit/subtrees.js";
import { auditAnchorAbi } from "../../src/chain/artifacts/AuditAnchor.js";
import { signTreeHead } from "../../src/audit/treeHead.js";
import { pushLeaf, textLeafHash, type EdgeNode } from "../../src/audit/serverHash.js";
import { canonicalText } from "../../src/audit/canonicalText.js";
import type { AuditEntry } from "../../src/audit/auditEntry.js";
import { latencySummary, round } from "./report.js";

export interface NaiveOptions {
  publicClient: PublicClient;
  chainId: number;
  auditAnchor: Address;
  /** A registered node account: signs the heads. */
  nodeSigner: LocalAccount;
  /** Sends the transactions (zero gas price: needs no balance). */
  sender: LocalAccount;
  senders: number;
  seconds: number;
  entry: (i: number) => AuditEntry;
}

/** Runs the naive design for `seconds` and reports events made durable per second. */
export async function runNaive(o: NaiveOptions): Promise<Record<string, unknown>> {
  const client = o.publicClient;
  const baseNonce = await client.getTransactionCount({ address: o.sender.address, blockTag: "pending" });
  const startBlock = await client.getBlockNumber();
  let next = 0;
  let done = 0;
  let reverted = 0;
  let lost = 0;
  const latencies: number[] = [];
  // The growing tree: every complete subtree by "level:index", and its right edge.
  const nodes = new Map<string, Uint8Array>();
  const edge: EdgeNode[] = [];
  const source: NodeSource = {
    nodes: (keys) => Promise.resolve(keys.map((k) => nodes.get(`${k.level}:${k.index}`) as Uint8Array)),
  };
  const deadline = performance.now() + o.seconds * 1000;
  const started = performance.now();
  const sender = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const n = next++;
      const timestamp = Math.floor(Date.now() / 1000);
      const t0 = performance.now();
      const leaf = textLeafHash(canonicalText(o.entry(n)));
      nodes.set(`0:${n}`, leaf);
      pushLeaf(edge, n, leaf).forEach((h, i) => nodes.set(`${i + 1}:${Math.floor(n / 2 ** (i + 1))}`, h));
      const root = foldSubtrees(edge.map((e) => e.hash));
      const proof = n === 0 ? [] : await buildConsistencyProof(source, n, n + 1);
      const head = await signTreeHead(
        o.nodeSigner,
        { treeSize: n + 1, rootHash: bytesToHex(root), mapRoot: EMPTY_MAP_ROOT, timestamp },
        { chainId: o.chainId, verifyingContract: o.auditAnchor },
      );
      const data = encodeFunctionData({
        abi: auditAnchorAbi,
        functionName: "anchor",
        args: [
          {
            node: head.node,
            treeSize: BigInt(head.treeSize),
            rootHash: head.rootHash,
            mapRoot: head.mapRoot,
            timestamp: BigInt(timestamp),
          },
          head.signature,
          proof.map((p) => bytesToHex(p)),
        ],
      });
      const raw = await o.sender.signTransaction({
        chainId: o.chainId,
        type: "eip1559",
        to: o.auditAnchor,
        data,
        nonce: baseNonce + n,
        gas: 300_000n,
        maxFeePerGas: 0n,
        maxPriorityFeePerGas: 0n,
      });
      const hash = await client.request({ method: "eth_sendRawTransaction", params: [raw] });
      // A transaction the ledger never mines (it should not happen) is counted lost, not awaited forever.
      const giveUpAt = performance.now() + 30_000;
      for (;;) {
        const receipt = await client.request({ method: "eth_getTransactionReceipt", params: [hash] });
        if (receipt) {
          if (receipt.status === "0x1") done++;
          else reverted++;
          break;
        }
        if (performance.now() > giveUpAt) {
          lost++;
          break;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: o.senders }, sender));
  const seconds = (performance.now() - started) / 1000;
  const endBlock = await client.getBlockNumber();
  return {
    design: "one AuditAnchor.anchor transaction per access event, receipt awaited",
    senders: o.senders,
    seconds: round(seconds),
    events: done,
    reverted,
    lost,
    eventsPerSecond: round(done / seconds, 1),
    ledgerTxPerSecond: round((done + reverted) / seconds, 1),
    blocks: Number(endBlock - startBlock),
    latencyMs: latencySummary(latencies),
  };
}
