import { keccak256, stringToHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { getMeta, setMeta } from "../store/meta.js";
import { startAnvil, type Anvil } from "./anvil.js";
import { participantRegistryAbi } from "./artifacts/ParticipantRegistry.js";
import { createChainClients, type ChainClients } from "./clients.js";
import { contractsOf, addressBookOf } from "./contractRegistry.js";
import { deployContracts, type Deployment } from "./deploy.js";
import { Indexer } from "./indexer.js";
import {
  isPatient,
  organizationById,
  organizationByNode,
  participantMirror,
  practitionerRoles,
  roleName,
} from "./participantMirror.js";

describe.each(engines)("Indexer on %s", (engine) => {
  let anvil: Anvil;
  let clients: ChainClients;
  let deployment: Deployment;
  let t: TestStore;
  const orgId = keccak256(stringToHex("org-1"));
  const node = privateKeyToAccount(generatePrivateKey()).address;
  const doctor = privateKeyToAccount(generatePrivateKey()).address;
  const nurse = privateKeyToAccount(generatePrivateKey()).address;
  const patient = privateKeyToAccount(generatePrivateKey());
  let head: bigint;
  let doctorBlock: bigint;
  let nurseBlock: bigint;

  const write = async (
    functionName: "registerOrganization" | "addPractitioner" | "removePractitioner" | "setOrganizationActive",
    args: readonly unknown[],
  ) => {
    const hash = await clients.walletClient.writeContract({
      address: deployment.participantRegistry,
      abi: participantRegistryAbi,
      functionName,
      args: args as never,
    });
    return (await clients.publicClient.waitForTransactionReceipt({ hash })).blockNumber;
  };

  beforeAll(async () => {
    anvil = await startAnvil();
    clients = await createChainClients(anvil.rpcUrl, privateKeyToAccount(generatePrivateKey()));
    deployment = await deployContracts(clients);
    await write("registerOrganization", [orgId, "General Hospital", 1, "https://gh.example", node]);
    doctorBlock = await write("addPractitioner", [orgId, doctor, stringToHex("physician", { size: 32 })]);
    nurseBlock = await write("addPractitioner", [orgId, nurse, stringToHex("nurse", { size: 32 })]);
    await write("removePractitioner", [orgId, nurse]);
    const patientClients = await createChainClients(anvil.rpcUrl, patient);
    const hash = await patientClients.walletClient.writeContract({
      address: deployment.participantRegistry,
      abi: participantRegistryAbi,
      functionName: "registerPatient",
    });
    head = (await clients.publicClient.waitForTransactionReceipt({ hash })).blockNumber;
  });
  afterAll(async () => {
    await anvil.stop();
  });
  beforeEach(async () => {
    t = await freshStore(engine);
  });
  afterEach(async () => {
    await t.dispose();
  });

  const newIndexer = () =>
    new Indexer({
      store: t.store,
      publicClient: clients.publicClient,
      contracts: contractsOf(addressBookOf(deployment)),
      fromBlock: deployment.blockNumber,
      chunkSize: 2,
      pollMs: 20,
    });

  it("dispatches decoded events in order, replays from the stored cursor, and rewinds after a rollback", async () => {
    const seen: string[] = [];
    const typed = new Indexer({
      store: t.store,
      publicClient: clients.publicClient,
      contracts: [
        { name: "ParticipantRegistry", address: deployment.participantRegistry, abi: participantRegistryAbi },
      ],
      fromBlock: deployment.blockNumber,
      chunkSize: 2,
    });
    typed.on("PractitionerAdded", (log) => {
      seen.push(`${log.eventName}:${roleName(log.args.role)}@${log.blockNumber}`);
    });
    typed.on("PatientRegistered", (log) => {
      seen.push(`${log.eventName}:${log.args.account}`);
    });
    expect(await typed.syncOnce()).toBe(head);
    expect(await getMeta(t.store.db, "indexer.cursor")).toBe(String(head));
    expect(seen).toEqual([
      `PractitionerAdded:physician@${doctorBlock}`,
      `PractitionerAdded:nurse@${nurseBlock}`,
      `PatientRegistered:${patient.address}`,
    ]);
    expect(await typed.lag()).toBe(0n);
    await typed.syncOnce();
    expect(seen).toHaveLength(3);

    // A crash before the cursor write replays the range; a cursor beyond the head is rewound.
    await setMeta(t.store.db, "indexer.cursor", String(nurseBlock - 1n));
    await typed.syncOnce();
    expect(seen.slice(3)).toEqual([
      `PractitionerAdded:nurse@${nurseBlock}`,
      `PatientRegistered:${patient.address}`,
    ]);
    await setMeta(t.store.db, "indexer.cursor", String(head + 100n));
    expect(await typed.syncOnce()).toBe(head);
    expect(seen).toHaveLength(5);
  });

  it("mirrors participants into the tables, idempotently under replay", async () => {
    const indexer = newIndexer();
    indexer.onLog(participantMirror(t.store.db));
    indexer.start();
    await indexer.waitForBlock(head, 10_000);
    const org = await organizationById(t.store.db, orgId);
    expect(org).toEqual({
      id: orgId,
      name: "General Hospital",
      kind: "clinic",
      endpoint: "https://gh.example",
      nodeAddress: node.toLowerCase(),
      active: true,
    });
    expect(await organizationByNode(t.store.db, node)).toEqual(org);
    expect(await practitionerRoles(t.store.db, doctor)).toEqual([{ orgId, role: "physician" }]);
    expect(await practitionerRoles(t.store.db, nurse)).toEqual([]);
    expect(await isPatient(t.store.db, patient.address)).toBe(true);
    expect(await isPatient(t.store.db, doctor)).toBe(false);

    const suspended = await write("setOrganizationActive", [orgId, false]);
    await indexer.waitForBlock(suspended, 10_000);
    await indexer.stop();
    expect((await organizationById(t.store.db, orgId))?.active).toBe(false);

    await setMeta(t.store.db, "indexer.cursor", String(deployment.blockNumber - 1n));
    await indexer.syncOnce();
    const count = async (table: "organizations" | "practitioners" | "patients") =>
      Number(
        (
          await t.store.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect([await count("organizations"), await count("practitioners"), await count("patients")]).toEqual([
      1, 2, 1,
    ]);
    expect((await organizationById(t.store.db, orgId))?.active).toBe(false);
    expect(await practitionerRoles(t.store.db, nurse)).toEqual([]);
  });
});

it("roleName trims the NUL padding of a bytes32 role", () => {
  expect(roleName(stringToHex("lab-technician", { size: 32 }) as Hex)).toBe("lab-technician");
});
