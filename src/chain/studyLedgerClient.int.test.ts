import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, parseEventLogs, toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config/config.js";
import { createLogger } from "../node/logger.js";
import { startNode, type RunningNode } from "../node/startNode.js";
import { runCli } from "../../test/support/cli.js";
import { engines, freshDatabase, type FreshDatabase } from "../../test/support/stores.js";
import { getMeta, setMeta } from "../store/meta.js";
import { studyEscrowAbi } from "./artifacts/StudyEscrow.js";
import { registrationKey } from "./participantAdmin.js";
import type { StudyLedger, StudyTerms } from "./studyLedger.js";
import { intendMint } from "./studyWrites.js";

const id = (s: string): Hex => keccak256(toHex(s));
const payoutAddress = (): Address => privateKeyToAccount(generatePrivateKey()).address;

/**
 * The node's StudyLedger against its real ledger: a study escrows reward × maxParticipants from the
 * sponsor, participants enroll as pseudonyms, a release spends ε, each contribution pays once
 * however often it is asked for, a withdrawn participant is not paid, close refunds the rest; bad
 * input is refused before anything is committed to the outbox.
 */
describe.each(engines)("StudyLedgerClient on a node (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-study-ledger-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  let ledger: StudyLedger;
  let sponsor: Address;
  let escrowAddress: Address;
  const REWARD = 150n;
  let now: number;

  const terms = (name: string, over: Partial<StudyTerms> = {}): StudyTerms => ({
    studyId: id(`${engine}:${name}`),
    protocolHash: id(`protocol:${name}`),
    reward: REWARD,
    maxParticipants: 4,
    enrollmentStart: now - 60,
    enrollmentEnd: now + 3600,
    minK: 5,
    epsilonBudgetMicros: 1_000_000n,
    ...over,
  });
  const outboxRows = async () =>
    Number(
      (
        await node.context.store.db
          .selectFrom("outbox")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const paidEvents = async (studyId: Hex) => {
    const logs = await node.context.clients.publicClient.getLogs({
      address: escrowAddress,
      fromBlock: 0n,
    });
    return parseEventLogs({ abi: studyEscrowAbi, logs, eventName: "ContributionPaid" }).filter(
      (l) => l.args.studyId === studyId,
    );
  };

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, logLevel: "silent" }),
      { logger: createLogger("silent") },
    );
    ledger = node.services.studyLedger;
    sponsor = node.context.key.account.address;
    escrowAddress = node.context.deployment.studyEscrow;
    await node.context.outbox.waitFor(registrationKey(node.context.organizationId), 60_000);
    const minted = await intendMint(node.context.outbox, sponsor, 1_000n, "study-ledger-test");
    await ledger.settled([minted.id]);
    now = Number((await node.context.clients.publicClient.getBlock()).timestamp);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("registers, enrolls, records a release, pays each contribution once, refuses a withdrawn participant, refunds on close", async () => {
    const t = terms("main");
    const registered = await ledger.registerStudy(t);
    expect(registered.outboxIds).toHaveLength(2);
    await ledger.settled(registered.outboxIds);
    expect(await ledger.balanceOf(sponsor)).toBe(1_000n - 4n * REWARD);
    expect(await ledger.balanceOf(escrowAddress)).toBe(4n * REWARD);
    expect(await ledger.study(t.studyId)).toMatchObject({
      sponsor,
      escrowed: 4n * REWARD,
      enrolled: 0,
      closed: false,
      organization: node.context.organizationId,
    });
    // the same registration again is the same intents, not a second study
    expect(await ledger.registerStudy(t)).toEqual(registered);

    const [alice, bob] = [id("alice@main"), id("bob@main")];
    const [alicePayout, bobPayout] = [payoutAddress(), payoutAddress()];
    const enrolled = [
      await ledger.enroll(t.studyId, alice, alicePayout, id("consent:alice")),
      await ledger.enroll(t.studyId, bob, bobPayout, id("consent:bob")),
    ];
    await ledger.settled(enrolled.map((e) => e.outboxId));
    expect(await ledger.participant(t.studyId, alice)).toEqual({
      organization: node.context.organizationId,
      payout: alicePayout,
      withdrawn: false,
    });
    expect(await ledger.participant(t.studyId, id("nobody"))).toBeNull();
    // double enrollment: another payout for the same participant is refused, nothing committed
    const rows = await outboxRows();
    await expect(ledger.enroll(t.studyId, alice, payoutAddress(), id("consent:alice"))).rejects.toMatchObject(
      {
        kind: "conflict",
        message: "the participant is already enrolled in this study",
      },
    );
    expect(await outboxRows()).toBe(rows);
    // the same enrollment again (a retry) is the committed one
    expect(await ledger.enroll(t.studyId, alice, alicePayout, id("consent:alice"))).toEqual(enrolled[0]);

    // releases: below k and beyond the budget are refused before anything is sent
    await expect(ledger.recordRelease(t.studyId, id("release:low-k"), 0n, 4)).rejects.toMatchObject({
      kind: "conflict",
      message: "the release's k is below the study's minimum k",
    });
    await expect(ledger.recordRelease(t.studyId, id("release:greedy"), 1_000_001n, 5)).rejects.toMatchObject({
      kind: "conflict",
      message: "the release would exceed the study's privacy budget",
    });
    expect(await outboxRows()).toBe(rows);
    const release = await ledger.recordRelease(t.studyId, id("release:1"), 400_000n, 6);
    await ledger.settled([release.outboxId]);
    expect((await ledger.study(t.studyId))?.epsilonSpentMicros).toBe(400_000n);

    // pay: once; asked again it is the same intent; the chain pays once
    const contribution = id("release:1/alice");
    const paid = await ledger.pay(t.studyId, alice, contribution);
    await ledger.settled([paid.outboxId]);
    expect(await ledger.isPaid(t.studyId, contribution)).toBe(true);
    expect(await ledger.pay(t.studyId, alice, contribution)).toEqual(paid);
    // a relayed duplicate that bypasses this node's key (another key for the same contribution) pays nothing more
    const duplicate = await node.context.outbox.intend({
      key: "test:duplicate-payment",
      contract: "StudyEscrow",
      functionName: "pay",
      args: [t.studyId, alice, contribution],
    });
    await ledger.settled([duplicate.id]);
    expect(await ledger.balanceOf(alicePayout)).toBe(REWARD);
    expect(await paidEvents(t.studyId)).toHaveLength(1);

    // withdraw: no further payouts, refused before sending
    const withdrawn = await ledger.withdraw(t.studyId, bob);
    await ledger.settled([withdrawn.outboxId]);
    expect((await ledger.participant(t.studyId, bob))?.withdrawn).toBe(true);
    const before = await outboxRows();
    await expect(ledger.pay(t.studyId, bob, id("release:1/bob"))).rejects.toMatchObject({
      kind: "conflict",
      message: "the participant withdrew from this study: no further payouts",
    });
    expect(await outboxRows()).toBe(before);
    expect(await ledger.balanceOf(bobPayout)).toBe(0n);
    await expect(ledger.pay(t.studyId, id("stranger"), id("release:1/stranger"))).rejects.toMatchObject({
      kind: "not-found",
    });

    // close: the rest goes back to the sponsor; nothing more is paid or enrolled
    const sponsorBefore = await ledger.balanceOf(sponsor);
    const closed = await ledger.close(t.studyId);
    await ledger.settled([closed.outboxId]);
    expect(await ledger.balanceOf(sponsor)).toBe(sponsorBefore + 3n * REWARD);
    expect(await ledger.balanceOf(escrowAddress)).toBe(0n);
    expect((await ledger.study(t.studyId))?.closed).toBe(true);
    await expect(ledger.pay(t.studyId, alice, id("release:2/alice"))).rejects.toMatchObject({
      kind: "conflict",
      message: "the study is closed",
    });
    await expect(ledger.enroll(t.studyId, id("carol"), payoutAddress(), id("c"))).rejects.toMatchObject({
      kind: "conflict",
      message: "the study is closed",
    });

    // histories: the patient sees the payout of this study; the sponsor its mint, escrow and refund
    expect(await ledger.history([alicePayout])).toEqual([
      expect.objectContaining({ kind: "paid", studyId: t.studyId, amount: REWARD, to: alicePayout }),
    ]);
    const sponsorHistory = await ledger.history([sponsor]);
    expect(sponsorHistory.map((e) => [e.kind, e.amount])).toEqual([
      ["minted", 1_000n],
      ["escrowed", 4n * REWARD],
      ["refunded", 3n * REWARD],
    ]);
    expect(sponsorHistory[1]).toMatchObject({ studyId: t.studyId, to: escrowAddress });
    expect(sponsorHistory[2]).toMatchObject({ studyId: t.studyId, to: sponsor });
  }, 120_000);

  it("refuses bad input with clear errors before anything is committed", async () => {
    const rows = await outboxRows();
    const balance = await ledger.balanceOf(sponsor);
    // the sponsor's credits do not cover reward × maxParticipants
    await expect(
      ledger.registerStudy(terms("too-big", { reward: balance, maxParticipants: 2 })),
    ).rejects.toMatchObject({
      kind: "conflict",
      message: "the sponsor's credits do not cover reward × maxParticipants",
    });
    await expect(ledger.registerStudy(terms("k1", { minK: 1 }))).rejects.toMatchObject({ kind: "invalid" });
    await expect(ledger.registerStudy(terms("window", { enrollmentEnd: now - 120 }))).rejects.toMatchObject({
      kind: "invalid",
      message: "enrollmentEnd must be after enrollmentStart",
    });
    await expect(ledger.registerStudy(terms("free", { reward: 0n }))).rejects.toMatchObject({
      kind: "invalid",
    });
    await expect(ledger.enroll(id("no-such-study"), id("p"), payoutAddress(), id("c"))).rejects.toMatchObject(
      {
        kind: "not-found",
      },
    );
    await expect(ledger.pay(id("no-such-study"), id("p"), id("c"))).rejects.toMatchObject({
      kind: "not-found",
    });
    await expect(ledger.enroll("0x1234" as Hex, id("p"), payoutAddress(), id("c"))).rejects.toMatchObject({
      kind: "invalid",
      message: "studyId must be 32 bytes of 0x-prefixed hex",
    });
    expect(await outboxRows()).toBe(rows);

    // payouts beyond the escrow: two participants, two contributions paid, the third refused
    const t = terms("small", { maxParticipants: 2 });
    const registered = await ledger.registerStudy(t);
    const [p1, p2] = [id("small:1"), id("small:2")];
    const [w1, w2] = [payoutAddress(), payoutAddress()];
    const enrolled = [
      await ledger.enroll(t.studyId, p1, w1, id("c1")),
      await ledger.enroll(t.studyId, p2, w2, id("c2")),
    ];
    await expect(ledger.enroll(t.studyId, id("small:3"), payoutAddress(), id("c3"))).rejects.toMatchObject({
      kind: "conflict",
      message: "the study is full",
    });
    const pays = [
      await ledger.pay(t.studyId, p1, id("small/1")),
      await ledger.pay(t.studyId, p2, id("small/2")),
    ];
    const committed = await outboxRows();
    await expect(ledger.pay(t.studyId, p1, id("small/3"))).rejects.toMatchObject({
      kind: "conflict",
      message: "the payout would exceed the study's escrow",
    });
    expect(await outboxRows()).toBe(committed);
    await ledger.settled([
      ...registered.outboxIds,
      ...enrolled.map((e) => e.outboxId),
      ...pays.map((p) => p.outboxId),
    ]);
    expect(await ledger.study(t.studyId)).toMatchObject({ escrowed: 0n, enrolled: 2 });
    expect([await ledger.balanceOf(w1), await ledger.balanceOf(w2)]).toEqual([REWARD, REWARD]);
    await expect(ledger.pay(t.studyId, p1, id("small/3"))).rejects.toMatchObject({
      message: "the payout would exceed the study's escrow",
    });
    expect(await paidEvents(t.studyId)).toHaveLength(2);
    expect(
      await node.context.store.db.selectFrom("outbox").select("id").where("status", "=", "failed").execute(),
    ).toEqual([]);
  }, 120_000);

  it("lets the governor mint with `carechain research credits mint`, once per reference", async () => {
    const receiver = payoutAddress();
    const env = { DATABASE_URL: database?.url ?? "", CHAIN_RPC_URL: "" };
    const mint = (...args: string[]) =>
      runCli(["--data-dir", dir, "research", "credits", "mint", "--to", receiver, ...args], env);
    const first = await mint("--amount", "12.5", "--reference", "cli-test-1", "--wait");
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ status: "confirmed", units: "1250", created: true });
    const again = await mint("--amount", "12.5", "--reference", "cli-test-1", "--wait");
    expect(JSON.parse(again.stdout)).toMatchObject({ status: "confirmed", created: false });
    expect(await ledger.balanceOf(receiver)).toBe(1250n);
    // an organization id names its registered node
    const own = await runCli(
      [
        "--data-dir",
        dir,
        "research",
        "credits",
        "mint",
        "--to",
        node.context.organizationId,
        "--amount",
        "1",
        "--wait",
      ],
      env,
    );
    expect(JSON.parse(own.stdout)).toMatchObject({ status: "confirmed", to: sponsor.toLowerCase() });

    const bad = await mint("--amount", "1.234");
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      "carechain: --amount must be a positive number of credits with at most two decimals",
    );
    expect((await mint("--amount", "0")).code).toBe(2);
    // a node that did not deploy the contracts does not govern minting
    const stored = (await getMeta(node.context.store.db, "chain.deployment"))!;
    await setMeta(
      node.context.store.db,
      "chain.deployment",
      JSON.stringify({ ...(JSON.parse(stored) as object), deployedHere: false }),
    );
    try {
      const refused = await mint("--amount", "5");
      expect(refused.code).toBe(4);
      expect(refused.stderr).toMatch(/only the consortium governor/);
    } finally {
      await setMeta(node.context.store.db, "chain.deployment", stored);
    }
    expect(await ledger.balanceOf(receiver)).toBe(1250n);
  }, 120_000);
});
