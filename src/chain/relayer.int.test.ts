import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFunctionData, keccak256, stringToHex, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { startAnvil, type Anvil } from "./anvil.js";
import { participantRegistryAbi } from "./artifacts/ParticipantRegistry.js";
import { createChainClients, type ChainClients } from "./clients.js";
import { addressBookOf, type AddressBook } from "./contractRegistry.js";
import { deployContracts, type Deployment } from "./deploy.js";
import { PARTICIPANT_DOMAIN, PARTICIPANT_TYPES } from "./eip712.js";
import { Outbox } from "./outbox.js";
import { Relayer } from "./relayer.js";

async function patientSignature(deployment: Deployment, patient = privateKeyToAccount(generatePrivateKey())) {
  const signature = await patient.signTypedData({
    domain: {
      ...PARTICIPANT_DOMAIN,
      chainId: deployment.chainId,
      verifyingContract: deployment.participantRegistry,
    },
    types: PARTICIPANT_TYPES,
    primaryType: "RegisterPatient",
    message: { patient: patient.address },
  });
  return { patient: patient.address, signature };
}

const isPatientOnChain = (clients: ChainClients, d: Deployment, account: Hex) =>
  clients.publicClient.readContract({
    address: d.participantRegistry,
    abi: participantRegistryAbi,
    functionName: "isPatient",
    args: [account],
  });

describe.each(engines)("Relayer on %s", (engine) => {
  let anvil: Anvil;
  let clients: ChainClients;
  let deployment: Deployment;
  let book: AddressBook;
  let account: LocalAccount;
  let t: TestStore;
  let outbox: Outbox;
  let relayer: Relayer | undefined;

  beforeAll(async () => {
    anvil = await startAnvil();
    account = privateKeyToAccount(generatePrivateKey());
    clients = await createChainClients(anvil.rpcUrl, account);
    deployment = await deployContracts(clients);
    book = addressBookOf(deployment);
  });
  afterAll(async () => {
    await anvil.stop();
  });
  beforeEach(async () => {
    t = await freshStore(engine);
    outbox = new Outbox(t.store);
  });
  afterEach(async () => {
    await relayer?.stop();
    relayer = undefined;
    await t.dispose();
  });

  const newRelayer = () =>
    new Relayer({ store: t.store, outbox, clients, account, contracts: book, pollMs: 50 });

  it("lands intents from a zero-balance sender, in order, each once", async () => {
    expect(await clients.publicClient.getBalance({ address: account.address })).toBe(0n);
    relayer = newRelayer();
    relayer.start();
    const orgId = keccak256(stringToHex(`org-${engine}`));
    const org = await outbox.intend({
      key: `org:${orgId}`,
      contract: "ParticipantRegistry",
      functionName: "registerOrganization",
      args: [
        orgId,
        "General Hospital",
        0,
        "https://gh.example",
        privateKeyToAccount(generatePrivateKey()).address,
      ],
    });
    const patients = await Promise.all([1, 2, 3].map(() => patientSignature(deployment)));
    const ids = [];
    for (const p of patients) {
      ids.push(
        (
          await outbox.intend({
            key: `patient:${p.patient}`,
            contract: "ParticipantRegistry",
            functionName: "registerPatientBySig",
            args: [p.patient, p.signature],
          })
        ).id,
      );
    }
    const rows = await Promise.all([org.id, ...ids].map((id) => outbox.waitFor(id, 10_000)));
    expect(rows.map((r) => r.status)).toEqual(["confirmed", "confirmed", "confirmed", "confirmed"]);
    const nonces = rows.map((r) => r.sender_nonce);
    expect(nonces).toEqual([...nonces].sort((a, b) => (a ?? 0) - (b ?? 0)));
    expect(new Set(nonces).size).toBe(4);
    for (const p of patients) expect(await isPatientOnChain(clients, deployment, p.patient)).toBe(true);
    const receipt = await clients.publicClient.getTransactionReceipt({ hash: rows[0]?.tx_hash as Hex });
    expect(Number(receipt.blockNumber)).toBe(rows[0]?.block_number);
    expect(await relayer.stats()).toMatchObject({ pending: 0, signed: 0, confirmed: 4, failed: 0 });
  });

  it("marks a reverting intent failed with the decoded error and never sends it", async () => {
    relayer = newRelayer();
    relayer.start();
    const impostor = await patientSignature(deployment);
    const victim = privateKeyToAccount(generatePrivateKey()).address;
    const { id } = await outbox.intend({
      key: "bad",
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args: [victim, impostor.signature],
    });
    const error = await outbox.waitFor(id, 10_000).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "conflict", details: `ParticipantInvalidSignature(${victim})` });
    expect(await outbox.get(id)).toMatchObject({ status: "failed", tx_hash: null, sender_nonce: null });
    const bogus = await outbox.intend({
      key: "bogus",
      contract: "ParticipantRegistry",
      functionName: "noSuchFunction",
      args: [],
    });
    await expect(outbox.waitFor(bogus.id, 10_000)).rejects.toMatchObject({
      details: expect.stringMatching(/^invalid intent: /),
    });
  });

  it("marks an intent that reverts once mined failed with the replayed error", async () => {
    const impostor = await patientSignature(deployment);
    const victim = privateKeyToAccount(generatePrivateKey()).address;
    const args = [victim, impostor.signature] as const;
    const { id } = await outbox.intend({
      key: "mined-revert",
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args,
    });
    const nonce = await clients.publicClient.getTransactionCount({
      address: account.address,
      blockTag: "pending",
    });
    // Signed without simulation (as if the state changed between simulation and mining).
    const raw = await account.signTransaction({
      chainId: deployment.chainId,
      type: "eip1559",
      to: deployment.participantRegistry,
      data: encodeFunctionData({ abi: participantRegistryAbi, functionName: "registerPatientBySig", args }),
      nonce,
      gas: 300_000n,
      maxFeePerGas: 0n,
      maxPriorityFeePerGas: 0n,
    });
    await outbox.markSigned(id, account.address, nonce, keccak256(raw), raw);
    relayer = newRelayer();
    relayer.start();
    await expect(outbox.waitFor(id, 10_000)).rejects.toMatchObject({
      details: `ParticipantInvalidSignature(${victim})`,
    });
    const row = await outbox.get(id);
    const receipt = await clients.publicClient.getTransactionReceipt({ hash: keccak256(raw) });
    expect(receipt.status).toBe("reverted");
    expect(row?.block_number).toBe(Number(receipt.blockNumber));
  });

  it("after a crash, broadcasts a row left signed and re-signs one whose nonce was taken", async () => {
    const pc = clients.publicClient;
    const unsent = await patientSignature(deployment);
    const stolen = await patientSignature(deployment);
    const a = await outbox.intend({
      key: "unsent",
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args: [unsent.patient, unsent.signature],
    });
    const b = await outbox.intend({
      key: "stolen",
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args: [stolen.patient, stolen.signature],
    });
    const nonce = await pc.getTransactionCount({ address: account.address, blockTag: "pending" });
    const sign = (args: readonly [Hex, Hex], n: number) =>
      account.signTransaction({
        chainId: deployment.chainId,
        type: "eip1559",
        to: deployment.participantRegistry,
        data: encodeFunctionData({ abi: participantRegistryAbi, functionName: "registerPatientBySig", args }),
        nonce: n,
        gas: 300_000n,
        maxFeePerGas: 0n,
        maxPriorityFeePerGas: 0n,
      });
    // The process died after storing these signed transactions and before broadcasting them.
    const rawA = await sign([unsent.patient, unsent.signature], nonce);
    await outbox.markSigned(a.id, account.address, nonce, keccak256(rawA), rawA);
    const rawB = await sign([stolen.patient, stolen.signature], nonce + 1);
    await outbox.markSigned(b.id, account.address, nonce + 1, keccak256(rawB), rawB);
    // Meanwhile, something else used both nonces: first A's own raw tx (sent by a peer), then an unrelated tx.
    await pc.sendRawTransaction({ serializedTransaction: rawA });
    const other = await clients.walletClient.sendTransaction({
      to: account.address,
      nonce: nonce + 1,
      gas: 21_000n,
      maxFeePerGas: 0n,
      maxPriorityFeePerGas: 0n,
    });
    await pc.waitForTransactionReceipt({ hash: other });

    relayer = newRelayer();
    relayer.start();
    const [rowA, rowB] = await Promise.all([outbox.waitFor(a.id, 10_000), outbox.waitFor(b.id, 10_000)]);
    expect(rowA.tx_hash).toBe(keccak256(rawA));
    expect(rowB.tx_hash).not.toBe(keccak256(rawB));
    expect(rowB.sender_nonce).toBe(nonce + 2);
    expect(await isPatientOnChain(clients, deployment, stolen.patient)).toBe(true);
  });
});

describe.each(engines)("Relayer on a ledger that mines after it answers, on %s", (engine) => {
  let anvil: Anvil | undefined;
  let t: TestStore | undefined;
  let relayer: Relayer | undefined;
  afterAll(async () => {
    await relayer?.stop();
    await anvil?.stop();
    await t?.dispose();
  });

  it("fails an intent by simulation only on a block holding the transactions sent before it", async () => {
    // Mining once a second, as a QBFT network does: eth_sendRawTransaction answers before the
    // transaction is in a block, so the next intent is simulated on a block without it.
    anvil = await startAnvil({ blockTime: 1 });
    const account = privateKeyToAccount(generatePrivateKey());
    const clients = await createChainClients(anvil.rpcUrl, account);
    const deployment = await deployContracts(clients);
    t = await freshStore(engine);
    const outbox = new Outbox(t.store);
    const orgId = keccak256(stringToHex(`mines-later-${engine}`));
    const practitioner = privateKeyToAccount(generatePrivateKey()).address;
    const unknownOrg = keccak256(stringToHex(`never-registered-${engine}`));
    const role = keccak256(stringToHex("physician"));
    // Intended together, as the demo seeding does: the second needs the first in a block.
    const register = await outbox.intend({
      key: "register",
      contract: "ParticipantRegistry",
      functionName: "registerOrganization",
      args: [orgId, "Clinic", 1, "https://clinic.example", privateKeyToAccount(generatePrivateKey()).address],
    });
    const add = await outbox.intend({
      key: "add",
      contract: "ParticipantRegistry",
      functionName: "addPractitioner",
      args: [orgId, practitioner, role],
    });
    const doomed = await outbox.intend({
      key: "doomed",
      contract: "ParticipantRegistry",
      functionName: "addPractitioner",
      args: [unknownOrg, practitioner, role],
    });
    relayer = new Relayer({
      store: t.store,
      outbox,
      clients,
      account,
      contracts: addressBookOf(deployment),
      pollMs: 50,
    });
    relayer.start();

    const [registered, added] = await Promise.all([
      outbox.waitFor(register.id, 15_000),
      outbox.waitFor(add.id, 15_000),
    ]);
    expect(added.sender_nonce).toBe(registered.sender_nonce! + 1);
    expect(added.block_number).toBeGreaterThanOrEqual(registered.block_number!);
    // a revert that stands on such a block still fails the intent, unsent
    await expect(outbox.waitFor(doomed.id, 15_000)).rejects.toMatchObject({
      details: `ParticipantUnknownOrganization(${unknownOrg})`,
    });
    expect(await outbox.get(doomed.id)).toMatchObject({ status: "failed", tx_hash: null });
  });
});

describe.each(engines)("Relayer through a ledger outage on %s", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-outage-"));
  let anvil: Anvil | undefined;
  let t: TestStore;
  let relayer: Relayer | undefined;
  afterAll(async () => {
    await relayer?.stop();
    await anvil?.stop();
    await t.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps an intent pending while the ledger is down and lands it once it is back", async () => {
    anvil = await startAnvil({ dataDir: dir });
    const port = anvil.port;
    const account = privateKeyToAccount(generatePrivateKey());
    const clients = await createChainClients(anvil.rpcUrl, account, { retryCount: 0, timeout: 1000 });
    const deployment = await deployContracts(clients);
    t = await freshStore(engine);
    const outbox = new Outbox(t.store);
    relayer = new Relayer({
      store: t.store,
      outbox,
      clients,
      account,
      contracts: addressBookOf(deployment),
      pollMs: 50,
    });
    relayer.start();
    const first = await patientSignature(deployment);
    const a = await outbox.intend({
      key: "a",
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args: [first.patient, first.signature],
    });
    await outbox.waitFor(a.id, 10_000);

    await anvil.stop();
    anvil = undefined;
    const second = await patientSignature(deployment);
    const b = await outbox.intend({
      key: "b",
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args: [second.patient, second.signature],
    });
    await new Promise((r) => setTimeout(r, 800));
    const during = await relayer.stats();
    expect(during.pending + during.signed).toBe(1);
    expect(during.failed).toBe(0);
    expect(during.lastError).toMatch(/HTTP request failed|fetch failed/);

    anvil = await startAnvil({ dataDir: dir, port });
    const row = await outbox.waitFor(b.id, 15_000);
    expect(row.status).toBe("confirmed");
    expect(await isPatientOnChain(clients, deployment, first.patient)).toBe(true);
    expect(await isPatientOnChain(clients, deployment, second.patient)).toBe(true);
  });
});

describe("Relayer after the embedded ledger lost its tail", () => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-tail-"));
  let anvil: Anvil | undefined;
  let t: TestStore | undefined;
  let relayer: Relayer | undefined;
  afterAll(async () => {
    await relayer?.stop();
    await anvil?.stop();
    await t?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("resends intents whose blocks the restarted ledger no longer has", async () => {
    // State is dumped only on a graceful stop: a SIGKILL loses every block since.
    anvil = await startAnvil({ dataDir: dir, stateInterval: 3600 });
    const port = anvil.port;
    const account = privateKeyToAccount(generatePrivateKey());
    const clients = await createChainClients(anvil.rpcUrl, account);
    const deployment = await deployContracts(clients);
    await anvil.stop();
    anvil = await startAnvil({ dataDir: dir, port, stateInterval: 3600 });
    const dumpedHead = await clients.publicClient.getBlockNumber({ cacheTime: 0 });

    t = await freshStore("sqlite");
    const outbox = new Outbox(t.store);
    const newRelayer = () =>
      new Relayer({
        store: t!.store,
        outbox,
        clients,
        account,
        contracts: addressBookOf(deployment),
        pollMs: 50,
      });
    relayer = newRelayer();
    relayer.start();
    const p = await patientSignature(deployment);
    const { id } = await outbox.intend({
      key: "tail",
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args: [p.patient, p.signature],
    });
    const before = await outbox.waitFor(id, 10_000);
    expect(before.block_number).toBeGreaterThan(Number(dumpedHead));

    // The embedded ledger and its node are killed together; both start again.
    await relayer.stop();
    process.kill(anvil.pid, "SIGKILL");
    await anvil.stop();
    anvil = await startAnvil({ dataDir: dir, port, stateInterval: 3600 });
    expect(await clients.publicClient.getBlockNumber({ cacheTime: 0 })).toBe(dumpedHead);
    expect(await isPatientOnChain(clients, deployment, p.patient)).toBe(false);
    expect(await outbox.get(id)).toMatchObject({ status: "confirmed", block_number: before.block_number });

    relayer = newRelayer();
    relayer.start();
    const deadline = Date.now() + 20_000;
    while (!(await isPatientOnChain(clients, deployment, p.patient)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await isPatientOnChain(clients, deployment, p.patient)).toBe(true);
    const after = await outbox.waitFor(id, 10_000);
    expect(after.tx_hash).toBe(before.tx_hash);
    const receipt = await clients.publicClient.getTransactionReceipt({ hash: after.tx_hash as Hex });
    expect(Number(receipt.blockNumber)).toBe(after.block_number);
  });
});
