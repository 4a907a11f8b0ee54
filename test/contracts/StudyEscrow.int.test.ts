import {
  getAddress,
  keccak256,
  parseAbi,
  parseEventLogs,
  toHex,
  zeroAddress,
  type Address,
  type Hex,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { careCreditAbi, careCreditBytecode } from "../../src/chain/artifacts/CareCredit.js";
import { participantRegistryAbi } from "../../src/chain/artifacts/ParticipantRegistry.js";
import { studyEscrowAbi as abi, studyEscrowBytecode } from "../../src/chain/artifacts/StudyEscrow.js";
import type { ChainClients } from "../../src/chain/clients.js";
import { expectRevert, mined, randomAccount, startChainFixture, type ChainFixture } from "./chainFixture.js";

const id = (s: string): Hex => keccak256(toHex(s));

describe("CareCredit and StudyEscrow", () => {
  let f: ChainFixture;
  let credit: Address;
  let escrow: Address;
  let research: ChainClients;
  let hospital: ChainClients;
  let clinic: ChainClients;
  let now: bigint;
  let studyCounter = 0;

  // the escrow's ABI with the token's errors (OpenZeppelin's IERC20Errors), so a revert inside the token is decoded too
  const withTokenErrors = [
    ...abi,
    ...parseAbi(["error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)"]),
  ];
  const write = (c: ChainClients, functionName: string, args: readonly unknown[]) =>
    c.walletClient.writeContract({
      address: escrow,
      abi: withTokenErrors,
      functionName: functionName as never,
      args: args as never,
    });
  const balance = (a: Address) =>
    f.governor.publicClient.readContract({
      address: credit,
      abi: careCreditAbi,
      functionName: "balanceOf",
      args: [a],
    });

  async function node(name: string, kind: number): Promise<ChainClients> {
    const account = randomAccount();
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "registerOrganization",
        args: [id(name), name, kind, `https://${name}.example`, account.address],
      }),
    );
    return f.connect(account);
  }

  /** A fresh study of `research`, with its escrow approved and funded. */
  async function study(terms: { reward?: bigint; max?: number; minK?: number; epsilon?: bigint } = {}) {
    const studyId = id(`study-${++studyCounter}`);
    const reward = terms.reward ?? 500n;
    const max = terms.max ?? 3;
    await mined(
      research,
      research.walletClient.writeContract({
        address: credit,
        abi: careCreditAbi,
        functionName: "approve",
        args: [escrow, reward * BigInt(max)],
      }),
    );
    await mined(
      research,
      write(research, "registerStudy", [
        studyId,
        id("protocol"),
        reward,
        max,
        now - 60n,
        now + 86_400n,
        terms.minK ?? 5,
        terms.epsilon ?? 1_000_000n,
      ]),
    );
    return { studyId, reward, max };
  }

  beforeAll(async () => {
    f = await startChainFixture();
    const deployed = await mined(
      f.governor,
      f.governor.walletClient.deployContract({
        abi: careCreditAbi,
        bytecode: careCreditBytecode,
        args: [f.governor.account.address],
      }),
    );
    credit = deployed.contractAddress!;
    const deployedEscrow = await mined(
      f.governor,
      f.governor.walletClient.deployContract({
        abi,
        bytecode: studyEscrowBytecode,
        args: [credit, f.deployment.participantRegistry],
      }),
    );
    escrow = deployedEscrow.contractAddress!;
    research = await node("research-institute", 5);
    hospital = await node("city-hospital", 0);
    clinic = await node("elm-clinic", 1);
    now = (await f.governor.publicClient.getBlock()).timestamp;
    // the governor lets itself mint, and funds the research organization
    const minter = await f.governor.publicClient.readContract({
      address: credit,
      abi: careCreditAbi,
      functionName: "MINTER_ROLE",
    });
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: credit,
        abi: careCreditAbi,
        functionName: "grantRole",
        args: [minter, f.governor.account.address],
      }),
    );
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: credit,
        abi: careCreditAbi,
        functionName: "mint",
        args: [research.account.address, 1_000_000n],
      }),
    );
  });
  afterAll(async () => {
    await f?.stop();
  });

  it("lets only minters mint; credits have two decimals", async () => {
    const stranger = await f.connect();
    const minter = await f.governor.publicClient.readContract({
      address: credit,
      abi: careCreditAbi,
      functionName: "MINTER_ROLE",
    });
    await expectRevert(
      stranger.walletClient.writeContract({
        address: credit,
        abi: careCreditAbi,
        functionName: "mint",
        args: [stranger.account.address, 1n],
      }),
      "AccessControlUnauthorizedAccount",
      [stranger.account.address, minter],
    );
    expect(
      await f.governor.publicClient.readContract({
        address: credit,
        abi: careCreditAbi,
        functionName: "decimals",
      }),
    ).toBe(2);
  });

  it("registers a study only from a node, with sound terms, and escrows reward × participants", async () => {
    const stranger = await f.connect();
    await expectRevert(
      write(stranger, "registerStudy", [id("x"), id("p"), 1n, 1, now, now + 10n, 2, 1n]),
      "StudyEscrowUnknownNode",
      [stranger.account.address],
    );
    for (const [args, rule] of [
      [[id("x"), id("p"), 0n, 1, now, now + 10n, 2, 1n], "reward"],
      [[id("x"), id("p"), 1n, 0, now, now + 10n, 2, 1n], "maxParticipants"],
      [[id("x"), id("p"), 1n, 1, now, now, 2, 1n], "enrollment window"],
      [[id("x"), id("p"), 1n, 1, now, now + 10n, 1, 1n], "minK"],
      [[id("x"), id("p"), 1n, 1, now, now + 10n, 2, 0n], "epsilon budget"],
    ] as const) {
      await expectRevert(write(research, "registerStudy", args), "StudyEscrowInvalidTerms", [rule]);
    }
    // a budget below reward × participants: the escrow cannot be pulled
    await expectRevert(
      write(research, "registerStudy", [id("unfunded"), id("p"), 10n ** 12n, 3, now, now + 10n, 2, 1n]),
      "ERC20InsufficientAllowance",
      [getAddress(escrow), 0n, 3n * 10n ** 12n],
    );
    const before = await balance(research.account.address);
    const { studyId } = await study({ reward: 500n, max: 3 });
    expect(before - (await balance(research.account.address))).toBe(1500n);
    expect(await balance(escrow)).toBeGreaterThanOrEqual(1500n);
    await expectRevert(
      write(research, "registerStudy", [studyId, id("p"), 1n, 1, now, now + 10n, 2, 1n]),
      "StudyEscrowStudyExists",
      [studyId],
    );
  });

  it("enrolls pseudonymous participants once, within the window and the maximum, with nothing identifying in the event", async () => {
    const { studyId } = await study({ max: 2 });
    const payout = randomAccount().address;
    const receipt = await mined(
      hospital,
      write(hospital, "enroll", [studyId, id("participant-1"), payout, id("consent-1")]),
    );
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ParticipantEnrolled" });
    expect(event?.args).toEqual({
      studyId,
      participant: id("participant-1"),
      organization: id("city-hospital"),
      payout,
      consentCommitment: id("consent-1"),
    });
    await expectRevert(
      write(clinic, "enroll", [studyId, id("participant-1"), payout, id("c")]),
      "StudyEscrowAlreadyEnrolled",
      [studyId, id("participant-1")],
    );
    await expectRevert(
      write(clinic, "enroll", [studyId, id("participant-x"), zeroAddress, id("c")]),
      "StudyEscrowInvalidTerms",
      ["payout"],
    );
    await mined(
      clinic,
      write(clinic, "enroll", [studyId, id("participant-2"), randomAccount().address, id("consent-2")]),
    );
    await expectRevert(
      write(clinic, "enroll", [studyId, id("participant-3"), randomAccount().address, id("c")]),
      "StudyEscrowEnrollmentClosed",
      [studyId],
    );
    await expectRevert(
      write(clinic, "enroll", [id("nope"), id("p"), payout, id("c")]),
      "StudyEscrowUnknownStudy",
      [id("nope")],
    );
  });

  it("refuses enrollment after the window", async () => {
    const { studyId } = await study();
    await f.testClient.increaseTime({ seconds: 2 * 86_400 });
    await f.testClient.mine({ blocks: 1 });
    await expectRevert(
      write(hospital, "enroll", [studyId, id("late"), randomAccount().address, id("c")]),
      "StudyEscrowEnrollmentClosed",
      [studyId],
    );
    now = (await f.governor.publicClient.getBlock()).timestamp;
  });

  it("records releases: refuses one below k, and sums ε across organizations against the budget", async () => {
    const { studyId } = await study({ minK: 5, epsilon: 1_000_000n });
    await expectRevert(
      write(hospital, "recordRelease", [studyId, id("r"), 100_000n, 4]),
      "StudyEscrowBelowK",
      [studyId, 4, 5],
    );
    await mined(hospital, write(hospital, "recordRelease", [studyId, id("r1"), 600_000n, 5]));
    await expectRevert(
      write(clinic, "recordRelease", [studyId, id("r2"), 400_001n, 7]),
      "StudyEscrowBudgetExceeded",
      [studyId, 400_001n, 400_000n],
    );
    const receipt = await mined(clinic, write(clinic, "recordRelease", [studyId, id("r2"), 400_000n, 7]));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "ReleaseRecorded" });
    expect(event?.args.epsilonSpentMicros).toBe(1_000_000n);
  });

  it("pays each contribution once, only to enrolled, not withdrawn participants of the paying organization, within escrow", async () => {
    const { studyId, reward } = await study({ reward: 700n, max: 2 });
    const payout = randomAccount().address;
    await mined(hospital, write(hospital, "enroll", [studyId, id("pp-1"), payout, id("c")]));
    await expectRevert(
      write(clinic, "pay", [studyId, id("pp-1"), id("contribution-1")]),
      "StudyEscrowNotEnrolled",
      [studyId, id("pp-1")],
    );
    await mined(hospital, write(hospital, "pay", [studyId, id("pp-1"), id("contribution-1")]));
    expect(await balance(payout)).toBe(reward);
    // the same contribution relayed again pays nothing more and emits nothing
    const again = await mined(hospital, write(hospital, "pay", [studyId, id("pp-1"), id("contribution-1")]));
    expect(parseEventLogs({ abi, logs: again.logs, eventName: "ContributionPaid" })).toEqual([]);
    expect(await balance(payout)).toBe(reward);
    await mined(hospital, write(hospital, "pay", [studyId, id("pp-1"), id("contribution-2")]));
    expect(await balance(payout)).toBe(2n * reward);
    // the escrow (700 × 2) is spent
    await expectRevert(
      write(hospital, "pay", [studyId, id("pp-1"), id("contribution-3")]),
      "StudyEscrowInsufficientEscrow",
      [studyId, 0n, reward],
    );
    // a withdrawn participant is not paid again
    const { studyId: other } = await study({ reward: 100n, max: 2 });
    await mined(hospital, write(hospital, "enroll", [other, id("pp-2"), randomAccount().address, id("c")]));
    await expectRevert(write(clinic, "withdraw", [other, id("pp-2")]), "StudyEscrowNotEnrolled", [
      other,
      id("pp-2"),
    ]);
    await mined(hospital, write(hospital, "withdraw", [other, id("pp-2")]));
    await expectRevert(write(hospital, "pay", [other, id("pp-2"), id("c-1")]), "StudyEscrowNotEnrolled", [
      other,
      id("pp-2"),
    ]);
  });

  it("closes a study for its sponsor only, refunding what is left and ending enrollment", async () => {
    const { studyId, reward, max } = await study({ reward: 300n, max: 4 });
    await expectRevert(write(hospital, "close", [studyId]), "StudyEscrowNotSponsor", [
      studyId,
      hospital.account.address,
    ]);
    const before = await balance(research.account.address);
    const receipt = await mined(research, write(research, "close", [studyId]));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "StudyClosed" });
    expect(event?.args.refunded).toBe(reward * BigInt(max));
    expect((await balance(research.account.address)) - before).toBe(reward * BigInt(max));
    await expectRevert(
      write(hospital, "enroll", [studyId, id("after"), randomAccount().address, id("c")]),
      "StudyEscrowEnrollmentClosed",
      [studyId],
    );
  });
});
