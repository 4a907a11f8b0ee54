/**
 * Gas per research-study call on anvil: CareCredit `mint` and `approve`, StudyEscrow
 * `registerStudy`, `enroll`, `recordRelease`, `pay` (a first payout, and the same contribution sent
 * again: a no-op), `withdraw` and `close`. The contracts are deployed as the node deploys them; a
 * registered node sponsors a study of `participants` participants, enrolls them all, records one
 * release and pays each once. Reported: gas of the first call of each kind and the median over
 * all calls of that kind. Run: `npx tsx bench/researchGas.ts [--quick]`.
 */
import { keccak256, maxUint256, toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { startAnvil } from "../src/chain/anvil.js";
import { careCreditAbi } from "../src/chain/artifacts/CareCredit.js";
import { participantRegistryAbi } from "../src/chain/artifacts/ParticipantRegistry.js";
import { studyEscrowAbi } from "../src/chain/artifacts/StudyEscrow.js";
import { createChainClients, type ChainClients } from "../src/chain/clients.js";
import { deployContracts } from "../src/chain/deploy.js";
import { isMain, runAsScript, type BenchOptions } from "./support/report.js";

const id = (s: string): Hex => keccak256(toHex(s));

export async function runResearchGasBench({ quick }: BenchOptions): Promise<object> {
  const anvil = await startAnvil();
  try {
    const governor = await createChainClients(anvil.rpcUrl, privateKeyToAccount(generatePrivateKey()));
    const d = await deployContracts(governor);
    const sponsor = await createChainClients(anvil.rpcUrl, privateKeyToAccount(generatePrivateKey()));
    await gasOf(
      governor,
      governor.walletClient.writeContract({
        address: d.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "registerOrganization",
        args: [id("gas-research"), "Gas Research", 5, "https://research.example", sponsor.account.address],
      }),
    );
    const participants = quick ? 5 : 50;
    const reward = 100n;
    const gas: Record<string, bigint[]> = {};
    const note = (kind: string, used: bigint) => (gas[kind] ??= []).push(used);
    const escrow = (c: ChainClients, functionName: string, args: readonly unknown[]) =>
      gasOf(
        c,
        c.walletClient.writeContract({
          address: d.studyEscrow,
          abi: studyEscrowAbi,
          functionName: functionName as never,
          args: args as never,
        }),
      );

    note(
      "mint",
      await gasOf(
        governor,
        governor.walletClient.writeContract({
          address: d.careCredit,
          abi: careCreditAbi,
          functionName: "mint",
          args: [sponsor.account.address, reward * BigInt(participants) * 2n],
        }),
      ),
    );
    note(
      "approve",
      await gasOf(
        sponsor,
        sponsor.walletClient.writeContract({
          address: d.careCredit,
          abi: careCreditAbi,
          functionName: "approve",
          args: [d.studyEscrow, maxUint256],
        }),
      ),
    );
    const now = BigInt((await sponsor.publicClient.getBlock()).timestamp);
    for (const name of ["gas-study-1", "gas-study-2"])
      note(
        "registerStudy",
        await escrow(sponsor, "registerStudy", [
          id(name),
          id(`protocol:${name}`),
          reward,
          participants,
          now - 60n,
          now + 3600n,
          5,
          1_000_000n,
        ]),
      );
    const studyId = id("gas-study-1");
    const people = Array.from({ length: participants }, (_, i) => ({
      participant: id(`participant:${i}`),
      payout: privateKeyToAccount(generatePrivateKey()).address as Address,
      contribution: id(`contribution:${i}`),
    }));
    for (const p of people)
      note(
        "enroll",
        await escrow(sponsor, "enroll", [studyId, p.participant, p.payout, id(`consent:${p.participant}`)]),
      );
    note("recordRelease", await escrow(sponsor, "recordRelease", [studyId, id("release:1"), 250_000n, 5]));
    note("recordRelease", await escrow(sponsor, "recordRelease", [studyId, id("release:2"), 250_000n, 5]));
    for (const p of people)
      note("pay", await escrow(sponsor, "pay", [studyId, p.participant, p.contribution]));
    note(
      "pay (contribution already paid)",
      await escrow(sponsor, "pay", [studyId, people[0]!.participant, people[0]!.contribution]),
    );
    note("withdraw", await escrow(sponsor, "withdraw", [studyId, people[1]!.participant]));
    note("close", await escrow(sponsor, "close", [id("gas-study-2")]));

    const calls = Object.fromEntries(
      Object.entries(gas).map(([kind, used]) => {
        const sorted = [...used].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        return [
          kind,
          {
            first: Number(used[0]),
            median: Number(sorted[Math.floor(sorted.length / 2)]),
            calls: used.length,
          },
        ];
      }),
    );
    return {
      note: "gas used per transaction (receipt gasUsed, including the 21,000 base); anvil, solc 0.8.28 as built by npm run contracts:build",
      participants,
      calls,
    };
  } finally {
    await anvil.stop();
  }
}

async function gasOf(clients: ChainClients, hash: Promise<Hex>): Promise<bigint> {
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash: await hash });
  if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
  return receipt.gasUsed;
}

if (isMain(import.meta.url)) await runAsScript(runResearchGasBench);
