/**
 * A node process paying research contributions, for the payout crash test
 * (test/e2e/researchPayoutCrash.int.test.ts). Starts a node on `<dataDir>` (embedded ledger; the
 * database at `<databaseUrl>` when given) and, by mode:
 * - `setup`: mints credits to itself, registers a study of 12 participants and enrolls them; prints `ready`.
 * - `pay`: prints `paid-before <n>` (contributions already paid on the ledger), intends the 12
 *   payouts one by one (`intended <i>` after each commit), waits until they are mined, and prints
 *   `report <json>`: ContributionPaid events per contribution, each payout address's balance and
 *   what is left in escrow.
 * Every id, address and amount derives from `<seed>`, so a run after a crash asks for the very
 * same payouts. CARECHAIN_CRASH_AT kills it at a relayer step (src/config/crashPoint.ts).
 *
 * Usage: node --import tsx test/support/researchPayoutWorker.ts <dataDir> <databaseUrl|-> <mode> <seed>
 */
import { concat, keccak256, parseEventLogs, toHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { studyEscrowAbi } from "../../src/chain/artifacts/StudyEscrow.js";
import { registrationKey } from "../../src/chain/participantAdmin.js";
import { intendMint } from "../../src/chain/studyWrites.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode } from "../../src/node/startNode.js";

const PARTICIPANTS = 12;
const REWARD = 125n;

const [dataDir, databaseArg, mode, seedArg] = process.argv.slice(2);
if (!dataDir || !databaseArg || (mode !== "setup" && mode !== "pay") || !seedArg) {
  console.error("usage: researchPayoutWorker <dataDir> <databaseUrl|-> <setup|pay> <seed>");
  process.exit(2);
}
const seed = keccak256(toHex(seedArg));
const derive = (label: string): Hex => keccak256(concat([seed, toHex(label)]));
const studyId = derive("study");
const participants = Array.from({ length: PARTICIPANTS }, (_, i) => ({
  pseudonym: derive(`participant:${i}`),
  payout: privateKeyToAccount(derive(`payout:${i}`)).address,
  contribution: derive(`contribution:${i}`),
}));

const node = await startNode(
  loadConfig(
    {},
    {
      dataDir,
      port: 0,
      logLevel: "silent",
      ...(databaseArg === "-" ? {} : { databaseUrl: databaseArg }),
    },
  ),
  { logger: createLogger("silent") },
);
const ledger = node.services.studyLedger;
const say = (line: string) => process.stdout.write(`${line}\n`);

if (mode === "setup") {
  await node.context.outbox.waitFor(registrationKey(node.context.organizationId), 60_000);
  const minted = await intendMint(
    node.context.outbox,
    node.context.key.account.address,
    REWARD * BigInt(PARTICIPANTS),
    `crash-test:${seed.slice(2, 18)}`,
  );
  await ledger.settled([minted.id]);
  const now = Number((await node.context.clients.publicClient.getBlock()).timestamp);
  const ids = (
    await ledger.registerStudy({
      studyId,
      protocolHash: derive("protocol"),
      reward: REWARD,
      maxParticipants: PARTICIPANTS,
      enrollmentStart: now - 60,
      enrollmentEnd: now + 24 * 3600,
      minK: 5,
      epsilonBudgetMicros: 1_000_000n,
    })
  ).outboxIds;
  for (const p of participants)
    ids.push(
      (await ledger.enroll(studyId, p.pseudonym, p.payout, derive(`consent:${p.pseudonym}`))).outboxId,
    );
  await ledger.settled(ids, 120_000);
  say("ready");
} else {
  let paidBefore = 0;
  for (const p of participants) if (await ledger.isPaid(studyId, p.contribution)) paidBefore++;
  say(`paid-before ${paidBefore}`);
  const ids: number[] = [];
  for (const [i, p] of participants.entries()) {
    ids.push((await ledger.pay(studyId, p.pseudonym, p.contribution)).outboxId);
    say(`intended ${i}`);
  }
  await ledger.settled(ids, 120_000);
  const logs = await node.context.clients.publicClient.getLogs({
    address: node.context.deployment.studyEscrow,
    fromBlock: node.context.deployment.blockNumber,
  });
  const paid = parseEventLogs({ abi: studyEscrowAbi, logs, eventName: "ContributionPaid" }).filter(
    (l) => l.args.studyId === studyId,
  );
  const report = {
    paidEvents: participants.map((p) => paid.filter((l) => l.args.contribution === p.contribution).length),
    balances: await Promise.all(participants.map(async (p) => String(await ledger.balanceOf(p.payout)))),
    escrowed: String((await ledger.study(studyId))?.escrowed),
    history: (await ledger.history(participants.map((p) => p.payout))).length,
    payIntents: (
      await node.context.store.db
        .selectFrom("outbox")
        .select("id")
        .where("function_name", "=", "pay")
        .execute()
    ).length,
    failed: (
      await node.context.store.db.selectFrom("outbox").select("id").where("status", "=", "failed").execute()
    ).length,
  };
  say(`report ${JSON.stringify(report)}`);
}
await node.stop();
process.exit(0);
