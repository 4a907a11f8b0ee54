import {
  keccak256,
  parseEventLogs,
  toHex,
  zeroAddress,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { participantRegistryAbi } from "../../src/chain/artifacts/ParticipantRegistry.js";
import { recordLocatorAbi as abi } from "../../src/chain/artifacts/RecordLocator.js";
import type { ChainClients } from "../../src/chain/clients.js";
import { categoryMask } from "../../src/model/vocabulary.js";
import { expectRevert, mined, randomAccount, startChainFixture, type ChainFixture } from "./chainFixture.js";

let orgCounter = 0;
const LABS = categoryMask(["labs"]);
const MEDS = categoryMask(["medications"]);

describe("RecordLocator", () => {
  let f: ChainFixture;
  let address: Address;

  beforeAll(async () => {
    f = await startChainFixture();
    address = f.deployment.recordLocator;
  });
  afterAll(async () => {
    await f?.stop();
  });

  async function registerNode(node: Address): Promise<Hex> {
    const orgId = keccak256(toHex(`locator-org-${++orgCounter}`));
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "registerOrganization",
        args: [orgId, "Lab", 3, "https://lab.example", node],
      }),
    );
    return orgId;
  }

  const publish = (c: ChainClients, patient: Address, categories: number, updatedAt: bigint) =>
    c.walletClient.writeContract({
      address,
      abi,
      functionName: "publish",
      args: [patient, categories, updatedAt],
    });
  const locations = (patient: Address) =>
    f.governor.publicClient.readContract({ address, abi, functionName: "locations", args: [patient] });

  async function nodeClients(): Promise<{ account: LocalAccount; clients: ChainClients; orgId: Hex }> {
    const account = randomAccount();
    const orgId = await registerNode(account.address);
    return { account, clients: await f.connect(account), orgId };
  }

  it("records what each organization holds, OR-ing categories and keeping the latest time", async () => {
    const patient = randomAccount().address;
    const lab = await nodeClients();
    const pharmacy = await nodeClients();
    const receipt = await mined(lab.clients, publish(lab.clients, patient, LABS, 100n));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "LocatorPublished" });
    expect(event?.args).toEqual({ patient, organization: lab.orgId, categories: LABS, updatedAt: 100n });

    await mined(pharmacy.clients, publish(pharmacy.clients, patient, MEDS, 150n));
    await mined(lab.clients, publish(lab.clients, patient, MEDS, 90n)); // late relay: time stays
    expect(await locations(patient)).toEqual([
      { organization: lab.orgId, categories: LABS | MEDS, updatedAt: 100n },
      { organization: pharmacy.orgId, categories: MEDS, updatedAt: 150n },
    ]);
    expect(await locations(randomAccount().address)).toEqual([]);
  });

  it("refuses callers that are not the node of an active organization", async () => {
    const stranger = await f.connect(randomAccount());
    await expectRevert(publish(stranger, randomAccount().address, LABS, 1n), "RecordLocatorUnknownNode", [
      stranger.account.address,
    ]);
    const suspended = await nodeClients();
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "setOrganizationActive",
        args: [suspended.orgId, false],
      }),
    );
    await expectRevert(
      publish(suspended.clients, randomAccount().address, LABS, 1n),
      "RecordLocatorUnknownNode",
      [suspended.account.address],
    );
  });

  it("refuses a zero patient or an empty category mask", async () => {
    const lab = await nodeClients();
    await expectRevert(publish(lab.clients, zeroAddress, LABS, 1n), "RecordLocatorZeroPatient");
    await expectRevert(publish(lab.clients, randomAccount().address, 0, 1n), "RecordLocatorNoCategories");
  });
});
