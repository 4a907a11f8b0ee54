/**
 * Gas per `AuditAnchor.anchor` at tree sizes 10^3..10^9, on anvil. The contract only sees hashes,
 * so each size uses a synthetic log whose leaves are all one hash: the complete subtree of 2^k
 * leaves then hashes to the same H_k wherever it sits, and the root and the consistency proof of
 * any size come from O(log n) hashes (a 10^9-entry log needs no 10^9 hashes). The SHA-256
 * precompile costs the same whatever the input, so the gas is the gas of a real log of that size.
 * For each size n, a fresh registered node anchors a first head at m (no proof), then the head at
 * n with the proof from m; reported: that second anchor's gas and its proof length, for
 * m = n - 1000 (one anchoring interval of a busy node), m = n/3 (a long proof) and the first
 * anchor (no proof). Run: `npx tsx bench/anchorGas.ts [--quick]`.
 */
import { bytesToHex, keccak256, toHex, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { buildConsistencyProof } from "../src/audit/consistencyProof.js";
import { fastNodeHash, textLeafHash } from "../src/audit/serverHash.js";
import { foldSubtrees, frontierOf, type NodeSource } from "../src/audit/subtrees.js";
import { signTreeHead } from "../src/audit/treeHead.js";
import { startAnvil } from "../src/chain/anvil.js";
import { auditAnchorAbi } from "../src/chain/artifacts/AuditAnchor.js";
import { participantRegistryAbi } from "../src/chain/artifacts/ParticipantRegistry.js";
import { createChainClients, type ChainClients } from "../src/chain/clients.js";
import { deployContracts } from "../src/chain/deploy.js";
import { isMain, runAsScript, type BenchOptions } from "./support/report.js";

/** Complete subtree hashes of the uniform log, by level. */
const levels: Uint8Array[] = [textLeafHash("synthetic entry")];
for (let k = 1; k <= 40; k++) levels.push(fastNodeHash(levels[k - 1]!, levels[k - 1]!));
const uniform: NodeSource = { nodes: (keys) => Promise.resolve(keys.map((k) => levels[k.level]!)) };
const rootOf = async (n: number): Promise<Hex> =>
  bytesToHex(foldSubtrees(await uniform.nodes(frontierOf(n))));

export async function runAnchorGasBench({ quick }: BenchOptions): Promise<object> {
  const anvil = await startAnvil();
  try {
    const governor = await createChainClients(anvil.rpcUrl, privateKeyToAccount(generatePrivateKey()));
    const deployment = await deployContracts(governor);
    const domain = { chainId: governor.chainId, verifyingContract: deployment.auditAnchor };
    let orgs = 0;
    const freshNode = async (): Promise<LocalAccount> => {
      const node = privateKeyToAccount(generatePrivateKey());
      await mined(
        governor,
        governor.walletClient.writeContract({
          address: deployment.participantRegistry,
          abi: participantRegistryAbi,
          functionName: "registerOrganization",
          args: [keccak256(toHex(`gas-org-${++orgs}`)), "Gas", 3, "https://gas.example", node.address],
        }),
      );
      return node;
    };
    const anchor = async (node: LocalAccount, size: number, proof: Hex[]): Promise<bigint> => {
      const head = await signTreeHead(
        node,
        { treeSize: size, rootHash: await rootOf(size), mapRoot: keccak256(toHex(size)), timestamp: size },
        domain,
      );
      const receipt = await mined(
        governor,
        governor.walletClient.writeContract({
          address: deployment.auditAnchor as Address,
          abi: auditAnchorAbi,
          functionName: "anchor",
          args: [
            {
              node: head.node,
              treeSize: BigInt(size),
              rootHash: head.rootHash,
              mapRoot: head.mapRoot,
              timestamp: BigInt(size),
            },
            head.signature,
            proof,
          ],
        }),
      );
      return receipt.gasUsed;
    };
    const measure = async (m: number, n: number) => {
      const node = await freshNode();
      const first = await anchor(node, m, []);
      const proof = (await buildConsistencyProof(uniform, m, n)).map((h) => bytesToHex(h));
      return {
        from: m,
        proofLength: proof.length,
        gas: Number(await anchor(node, n, proof)),
        firstAnchorGas: Number(first),
      };
    };
    const exponents = quick ? [3, 6, 9] : [3, 4, 5, 6, 7, 8, 9];
    const sizes = [];
    for (const e of exponents) {
      const n = 10 ** e;
      const interval = await measure(n > 2000 ? n - 1000 : n / 2, n);
      const long = await measure(Math.floor(n / 3), n);
      sizes.push({
        treeSize: n,
        log2: Math.round(Math.log2(n) * 10) / 10,
        afterInterval: { from: interval.from, proofLength: interval.proofLength, gas: interval.gas },
        afterLongGap: { from: long.from, proofLength: long.proofLength, gas: long.gas },
        firstAnchorGas: interval.firstAnchorGas,
      });
    }
    return {
      note: "gas of AuditAnchor.anchor with the consistency proof from the node's previous anchor (uniform synthetic log; SHA-256 precompile cost is input-independent)",
      sizes,
    };
  } finally {
    await anvil.stop();
  }
}

async function mined(clients: ChainClients, hash: Promise<Hex>) {
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash: await hash });
  if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
  return receipt;
}

if (isMain(import.meta.url)) await runAsScript(runAnchorGasBench);
