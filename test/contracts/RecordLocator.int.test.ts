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
import { expectRevert, mined, randomAccount, startChainFixture, type ChainFixture } from "./chainFixture.js";

let orgCounter = 0;

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

  const publish = (c: ChainClients, patient: Address, updatedAt: bigint) =>
    c.walletClient.writeContract({ address, abi, functionName: "publish", args: [patient, updatedAt] });
  const withdraw = (c: ChainClients, patient: Address) =>
    c.walletClient.writeContract({ address, abi, functionName: "withdraw", args: [patient] });
  const locations = (patient: Address) =>
    f.governor.publicClient.readContract({ address, abi, functionName: "locations", args: [patient] });

  async function nodeClients(): Promise<{ account: LocalAccount; clients: ChainClients; orgId: Hex }> {
    const account = randomAccount();
    const orgId = await registerNode(account.address);
    return { account, clients: await f.connect(account), orgId };
  }

  it("records which organizations hold data for an account, keeping the latest time", async () => {
    const patient = randomAccount().address;
    const lab = await nodeClients();
    const pharmacy = await nodeClients();
    const receipt = await mined(lab.clients, publish(lab.clients, patient, 100n));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "LocatorPublished" });
    expect(event?.args).toEqual({ patient, organization: lab.orgId, updatedAt: 100n });

    await mined(pharmacy.clients, publish(pharmacy.clients, patient, 150n));
    await mined(lab.clients, publish(lab.clients, patient, 90n)); // late relay: time stays
    expect(await locations(patient)).toEqual([
      { organization: lab.orgId, updatedAt: 100n },
      { organization: pharmacy.orgId, updatedAt: 150n },
    ]);
    expect(await locations(randomAccount().address)).toEqual([]);
    expect(
      await f.governor.publicClient.readContract({ address, abi, functionName: "LOCATOR_VERSION" }),
    ).toBe(2);
  });

  it("carries no category in any event or in the stored entry", () => {
    for (const item of abi) {
      if (item.type !== "event" && item.type !== "function") continue;
      const fields = [...item.inputs, ...("outputs" in item ? item.outputs : [])].flatMap((p) =>
        "components" in p ? [p.name, ...p.components.map((c) => c.name)] : [p.name],
      );
      expect(fields.filter((n) => /categor/iu.test(n))).toEqual([]);
    }
  });

  it("withdraws only the caller's own entry, keeps the others, and may publish again", async () => {
    const patient = randomAccount().address;
    const [a, b, c] = [await nodeClients(), await nodeClients(), await nodeClients()];
    for (const [i, n] of [a, b, c].entries())
      await mined(n.clients, publish(n.clients, patient, BigInt(10 + i)));

    const receipt = await mined(a.clients, withdraw(a.clients, patient));
    const events = parseEventLogs({ abi, logs: receipt.logs });
    expect(events.map((e) => [e.eventName, e.args])).toEqual([
      ["LocatorWithdrawn", { patient, organization: a.orgId }],
    ]);
    // the last holder moved into the freed slot
    expect(await locations(patient)).toEqual([
      { organization: c.orgId, updatedAt: 12n },
      { organization: b.orgId, updatedAt: 11n },
    ]);
    await mined(c.clients, withdraw(c.clients, patient));
    expect(await locations(patient)).toEqual([{ organization: b.orgId, updatedAt: 11n }]);

    // an absent entry: nothing changes, nothing is emitted, nothing reverts
    const again = await mined(a.clients, withdraw(a.clients, patient));
    expect(again.logs).toEqual([]);
    expect(await locations(patient)).toEqual([{ organization: b.orgId, updatedAt: 11n }]);

    // a withdrawn organization may publish again, from a fresh time
    await mined(a.clients, publish(a.clients, patient, 5n));
    await mined(b.clients, withdraw(b.clients, patient));
    expect(await locations(patient)).toEqual([{ organization: a.orgId, updatedAt: 5n }]);
    await mined(a.clients, withdraw(a.clients, patient));
    expect(await locations(patient)).toEqual([]);
  });

  it("refuses callers that are not the node of an active organization", async () => {
    const stranger = await f.connect(randomAccount());
    const patient = randomAccount().address;
    await expectRevert(publish(stranger, patient, 1n), "RecordLocatorUnknownNode", [
      stranger.account.address,
    ]);
    await expectRevert(withdraw(stranger, patient), "RecordLocatorUnknownNode", [stranger.account.address]);
    const suspended = await nodeClients();
    await mined(suspended.clients, publish(suspended.clients, patient, 1n));
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "setOrganizationActive",
        args: [suspended.orgId, false],
      }),
    );
    await expectRevert(publish(suspended.clients, patient, 2n), "RecordLocatorUnknownNode", [
      suspended.account.address,
    ]);
    await expectRevert(withdraw(suspended.clients, patient), "RecordLocatorUnknownNode", [
      suspended.account.address,
    ]);
  });

  it("refuses a zero patient", async () => {
    const lab = await nodeClients();
    await expectRevert(publish(lab.clients, zeroAddress, 1n), "RecordLocatorZeroPatient");
    await expectRevert(withdraw(lab.clients, zeroAddress), "RecordLocatorZeroPatient");
  });
});
