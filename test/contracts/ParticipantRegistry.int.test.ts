import {
  keccak256,
  parseEventLogs,
  stringToHex,
  toHex,
  zeroAddress,
  zeroHash,
  type Address,
  type Hex,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { participantRegistryAbi as abi } from "../../src/chain/artifacts/ParticipantRegistry.js";
import { EMBEDDED_CHAIN_ID } from "../../src/chain/anvil.js";
import type { ChainClients } from "../../src/chain/clients.js";
import { PARTICIPANT_DOMAIN, PARTICIPANT_TYPES } from "../../src/chain/eip712.js";
import { ORGANIZATION_KINDS } from "../../src/model/vocabulary.js";
import {
  deployWallet1271,
  expectRevert,
  mined,
  randomAccount,
  startChainFixture,
  type ChainFixture,
} from "./chainFixture.js";

const role = (name: string): Hex => stringToHex(name, { size: 32 });
let orgCounter = 0;
const newOrgId = (): Hex => keccak256(toHex(`org-${++orgCounter}`));
const GOVERNOR_ROLE = keccak256(toHex("GOVERNOR_ROLE"));

describe("ParticipantRegistry", () => {
  let f: ChainFixture;
  let gov: ChainClients;
  let address: Address;

  beforeAll(async () => {
    f = await startChainFixture();
    gov = f.governor;
    address = f.deployment.participantRegistry;
  });
  afterAll(async () => {
    await f?.stop();
  });

  const read = (clients: ChainClients) => ({
    organization: (orgId: Hex) =>
      clients.publicClient.readContract({ address, abi, functionName: "organization", args: [orgId] }),
    isNode: (a: Address) =>
      clients.publicClient.readContract({ address, abi, functionName: "isNode", args: [a] }),
    organizationOfNode: (a: Address) =>
      clients.publicClient.readContract({ address, abi, functionName: "organizationOfNode", args: [a] }),
    practitionerRole: (orgId: Hex, a: Address) =>
      clients.publicClient.readContract({ address, abi, functionName: "practitionerRole", args: [orgId, a] }),
    isPatient: (a: Address) =>
      clients.publicClient.readContract({ address, abi, functionName: "isPatient", args: [a] }),
  });

  const register = (by: ChainClients, orgId: Hex, node: Address, kind = 0) =>
    by.walletClient.writeContract({
      address,
      abi,
      functionName: "registerOrganization",
      args: [orgId, "General Hospital", kind, "https://node.example", node],
    });

  /** Registers an organization whose node is a fresh account; returns the node's clients. */
  async function newOrganization(kind = 0): Promise<{ orgId: Hex; node: ChainClients }> {
    const orgId = newOrgId();
    const node = await f.connect();
    await mined(gov, register(gov, orgId, node.account.address, kind));
    return { orgId, node };
  }

  it("was deployed from an account without balance (zero gas price)", async () => {
    expect(await gov.publicClient.getBalance({ address: gov.account.address })).toBe(0n);
    expect(f.deployment.chainId).toBe(EMBEDDED_CHAIN_ID);
    expect(f.deployment.blockNumber).toBe(1n);
    for (const contract of [address, f.deployment.consentRegistry, f.deployment.auditAnchor]) {
      expect((await gov.publicClient.getCode({ address: contract }))?.length ?? 0).toBeGreaterThan(2);
    }
  });

  it("makes the deployer admin and governor", async () => {
    const has = (r: Hex) =>
      gov.publicClient.readContract({
        address,
        abi,
        functionName: "hasRole",
        args: [r, gov.account.address],
      });
    expect(await has(zeroHash)).toBe(true);
    expect(await has(GOVERNOR_ROLE)).toBe(true);
    expect(await gov.publicClient.readContract({ address, abi, functionName: "GOVERNOR_ROLE" })).toBe(
      GOVERNOR_ROLE,
    );
  });

  it("registers an organization and its node", async () => {
    const orgId = newOrgId();
    const node = randomAccount().address;
    const kind = ORGANIZATION_KINDS.indexOf("pharmacy");
    const receipt = await mined(gov, register(gov, orgId, node, kind));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "OrganizationRegistered" });
    expect(event?.args).toEqual({
      orgId,
      name: "General Hospital",
      kind,
      endpoint: "https://node.example",
      node,
    });
    expect(await read(gov).organization(orgId)).toEqual({
      name: "General Hospital",
      kind,
      endpoint: "https://node.example",
      node,
      active: true,
      exists: true,
    });
    expect(await read(gov).organizationOfNode(node)).toBe(orgId);
    expect(await read(gov).isNode(node)).toBe(true);
    expect(await read(gov).isNode(randomAccount().address)).toBe(false);
  });

  it("rejects invalid organization registrations", async () => {
    const { orgId, node } = await newOrganization();
    const stranger = await f.connect();
    await expectRevert(
      register(stranger, newOrgId(), randomAccount().address),
      "AccessControlUnauthorizedAccount",
      [stranger.account.address, GOVERNOR_ROLE],
    );
    await expectRevert(register(gov, orgId, randomAccount().address), "ParticipantOrganizationExists", [
      orgId,
    ]);
    await expectRevert(register(gov, newOrgId(), randomAccount().address, 7), "ParticipantInvalidKind", [7]);
    await expectRevert(register(gov, newOrgId(), node.account.address), "ParticipantNodeInUse", [
      node.account.address,
    ]);
    await expectRevert(register(gov, zeroHash, randomAccount().address), "ParticipantZeroOrganizationId");
    await expectRevert(register(gov, newOrgId(), zeroAddress), "ParticipantZeroNode");
  });

  it("lets the node rotate its key and endpoint, and nobody else", async () => {
    const { orgId, node } = await newOrganization();
    const other = await newOrganization();
    const next = randomAccount().address;
    const update = (by: ChainClients, id: Hex, newNode: Address) =>
      by.walletClient.writeContract({
        address,
        abi,
        functionName: "updateOrganization",
        args: [id, "https://new.example", newNode],
      });
    const stranger = await f.connect();
    await expectRevert(update(stranger, orgId, next), "ParticipantUnauthorized", [
      stranger.account.address,
      orgId,
    ]);
    await expectRevert(update(other.node, orgId, next), "ParticipantUnauthorized", [
      other.node.account.address,
      orgId,
    ]);
    const unknown = newOrgId();
    await expectRevert(update(gov, unknown, next), "ParticipantUnknownOrganization", [unknown]);
    await expectRevert(update(node, orgId, other.node.account.address), "ParticipantNodeInUse", [
      other.node.account.address,
    ]);

    const receipt = await mined(node, update(node, orgId, next));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "OrganizationUpdated" });
    expect(event?.args).toEqual({ orgId, endpoint: "https://new.example", node: next });
    expect(await read(gov).isNode(node.account.address)).toBe(false);
    expect(await read(gov).organizationOfNode(node.account.address)).toBe(zeroHash);
    expect(await read(gov).organizationOfNode(next)).toBe(orgId);
    expect((await read(gov).organization(orgId)).endpoint).toBe("https://new.example");
    // the old key lost its rights; the governor keeps them
    await expectRevert(update(node, orgId, node.account.address), "ParticipantUnauthorized", [
      node.account.address,
      orgId,
    ]);
    await mined(gov, update(gov, orgId, node.account.address));
    expect(await read(gov).organizationOfNode(node.account.address)).toBe(orgId);
  });

  it("suspends and reinstates an organization", async () => {
    const { orgId, node } = await newOrganization();
    const setActive = (by: ChainClients, id: Hex, active: boolean) =>
      by.walletClient.writeContract({
        address,
        abi,
        functionName: "setOrganizationActive",
        args: [id, active],
      });
    await expectRevert(setActive(node, orgId, false), "AccessControlUnauthorizedAccount", [
      node.account.address,
      GOVERNOR_ROLE,
    ]);
    const unknown = newOrgId();
    await expectRevert(setActive(gov, unknown, false), "ParticipantUnknownOrganization", [unknown]);

    const receipt = await mined(gov, setActive(gov, orgId, false));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "OrganizationActivationChanged" });
    expect(event?.args).toEqual({ orgId, active: false });
    expect(await read(gov).isNode(node.account.address)).toBe(false);
    expect((await read(gov).organization(orgId)).active).toBe(false);
    // a suspended organization's node cannot vouch for practitioners
    await expectRevert(
      node.walletClient.writeContract({
        address,
        abi,
        functionName: "addPractitioner",
        args: [orgId, randomAccount().address, role("nurse")],
      }),
      "ParticipantUnauthorized",
      [node.account.address, orgId],
    );

    await mined(gov, setActive(gov, orgId, true));
    expect(await read(gov).isNode(node.account.address)).toBe(true);
  });

  it("lets the organization's node add and remove practitioners", async () => {
    const { orgId, node } = await newOrganization();
    const practitioner = randomAccount().address;
    const add = (by: ChainClients, who: Address, r: Hex, id = orgId) =>
      by.walletClient.writeContract({ address, abi, functionName: "addPractitioner", args: [id, who, r] });
    const remove = (by: ChainClients, who: Address) =>
      by.walletClient.writeContract({ address, abi, functionName: "removePractitioner", args: [orgId, who] });
    const stranger = await f.connect();

    await expectRevert(add(stranger, practitioner, role("physician")), "ParticipantUnauthorized", [
      stranger.account.address,
      orgId,
    ]);
    await expectRevert(add(node, practitioner, zeroHash), "ParticipantZeroRole");
    const unknown = newOrgId();
    await expectRevert(add(gov, practitioner, role("physician"), unknown), "ParticipantUnknownOrganization", [
      unknown,
    ]);

    const receipt = await mined(node, add(node, practitioner, role("physician")));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "PractitionerAdded" });
    expect(event?.args).toEqual({ orgId, account: practitioner, role: role("physician") });
    expect(await read(gov).practitionerRole(orgId, practitioner)).toBe(role("physician"));
    await expectRevert(add(node, practitioner, role("nurse")), "ParticipantAlreadyRegistered", [
      practitioner,
    ]);
    const byGovernor = randomAccount().address;
    await mined(gov, add(gov, byGovernor, role("nurse")));
    expect(await read(gov).practitionerRole(orgId, byGovernor)).toBe(role("nurse"));

    await expectRevert(remove(stranger, practitioner), "ParticipantUnauthorized", [
      stranger.account.address,
      orgId,
    ]);
    const removed = await mined(node, remove(node, practitioner));
    const [removedEvent] = parseEventLogs({ abi, logs: removed.logs, eventName: "PractitionerRemoved" });
    expect(removedEvent?.args).toEqual({ orgId, account: practitioner });
    expect(await read(gov).practitionerRole(orgId, practitioner)).toBe(zeroHash);
    await expectRevert(remove(node, practitioner), "ParticipantUnknownPractitioner", [orgId, practitioner]);
  });

  it("registers a patient who calls in person, once", async () => {
    const patient = await f.connect();
    const receipt = await mined(
      patient,
      patient.walletClient.writeContract({ address, abi, functionName: "registerPatient" }),
    );
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "PatientRegistered" });
    expect(event?.args).toEqual({ account: patient.account.address });
    expect(await read(gov).isPatient(patient.account.address)).toBe(true);
    expect(await read(gov).isPatient(randomAccount().address)).toBe(false);
    await expectRevert(
      patient.walletClient.writeContract({ address, abi, functionName: "registerPatient" }),
      "ParticipantAlreadyRegistered",
      [patient.account.address],
    );
  });

  describe("registerPatientBySig", () => {
    const domain = () => ({
      ...PARTICIPANT_DOMAIN,
      chainId: f.deployment.chainId,
      verifyingContract: address,
    });
    const sign = (signer: ReturnType<typeof randomAccount>, patient: Address) =>
      signer.signTypedData({
        domain: domain(),
        types: PARTICIPANT_TYPES,
        primaryType: "RegisterPatient",
        message: { patient },
      });
    const submit = (relayer: ChainClients, patient: Address, signature: Hex) =>
      relayer.walletClient.writeContract({
        address,
        abi,
        functionName: "registerPatientBySig",
        args: [patient, signature],
      });

    it("registers a patient on their signature, relayed by anyone", async () => {
      const patient = randomAccount();
      const relayer = await f.connect();
      const signature = await sign(patient, patient.address);
      const receipt = await mined(relayer, submit(relayer, patient.address, signature));
      const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "PatientRegistered" });
      expect(event?.args.account).toBe(patient.address);
      expect(await read(gov).isPatient(patient.address)).toBe(true);
      await expectRevert(submit(relayer, patient.address, signature), "ParticipantAlreadyRegistered", [
        patient.address,
      ]);
    });

    it("rejects a forged signature", async () => {
      const patient = randomAccount();
      const forger = randomAccount();
      await expectRevert(
        submit(gov, patient.address, await sign(forger, patient.address)),
        "ParticipantInvalidSignature",
        [patient.address],
      );
      // a genuine signature for someone else does not register this patient either
      await expectRevert(
        submit(gov, patient.address, await sign(patient, forger.address)),
        "ParticipantInvalidSignature",
        [patient.address],
      );
      await expectRevert(submit(gov, patient.address, "0x1234"), "ParticipantInvalidSignature", [
        patient.address,
      ]);
      expect(await read(gov).isPatient(patient.address)).toBe(false);
    });

    it("accepts an EIP-1271 contract wallet signed by its owner", async () => {
      const owner = randomAccount();
      const wallet = await deployWallet1271(gov, owner.address);
      await expectRevert(
        submit(gov, wallet, await sign(randomAccount(), wallet)),
        "ParticipantInvalidSignature",
        [wallet],
      );
      await mined(gov, submit(gov, wallet, await sign(owner, wallet)));
      expect(await read(gov).isPatient(wallet)).toBe(true);
    });
  });
});
