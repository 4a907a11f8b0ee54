/**
 * Shared set-up of the contract tests: a throwaway anvil, the three contracts deployed by a fresh
 * governor account, clients for any number of fresh accounts (zero gas price: none needs funds),
 * and assertions on mined transactions and on reverts by custom error name and arguments.
 */
import {
  BaseError as ViemBaseError,
  ContractFunctionRevertedError,
  createTestClient,
  getAddress,
  http,
  type Address,
  type Hash,
  type LocalAccount,
  type TestClient,
  type TransactionReceipt,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { expect } from "vitest";
import { startAnvil, type Anvil } from "../../src/chain/anvil.js";
import { testWallet1271Abi, testWallet1271Bytecode } from "../../src/chain/artifacts/TestWallet1271.js";
import { createChainClients, type ChainClients } from "../../src/chain/clients.js";
import { deployContracts, type Deployment } from "../../src/chain/deploy.js";

export interface ChainFixture {
  readonly anvil: Anvil;
  readonly deployment: Deployment;
  /** The deployer: admin and governor of the ParticipantRegistry. */
  readonly governor: ChainClients;
  readonly testClient: TestClient<"anvil">;
  /** Clients writing as `account`, or as a fresh random account. */
  connect(account?: LocalAccount): Promise<ChainClients>;
  stop(): Promise<void>;
}

/** Starts anvil and deploys the carechain contracts from a fresh account without balance. */
export async function startChainFixture(): Promise<ChainFixture> {
  const anvil = await startAnvil();
  try {
    const connect = (account?: LocalAccount): Promise<ChainClients> =>
      createChainClients(anvil.rpcUrl, account ?? privateKeyToAccount(generatePrivateKey()));
    const governor = await connect();
    const deployment = await deployContracts(governor);
    const testClient = createTestClient({
      mode: "anvil",
      chain: governor.chain,
      transport: http(anvil.rpcUrl),
    });
    return { anvil, deployment, governor, testClient, connect, stop: () => anvil.stop() };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** A fresh random account. */
export function randomAccount(): LocalAccount {
  return privateKeyToAccount(generatePrivateKey());
}

/** Deploys a test EIP-1271 wallet that accepts signatures by `owner`; returns its address. */
export async function deployWallet1271(clients: ChainClients, owner: Address): Promise<Address> {
  const receipt = await mined(
    clients,
    clients.walletClient.deployContract({
      abi: testWallet1271Abi,
      bytecode: testWallet1271Bytecode,
      args: [owner],
    }),
  );
  expect(receipt.contractAddress).toBeTruthy();
  return getAddress(receipt.contractAddress ?? "");
}

/** Waits for the transaction and asserts it succeeded. */
export async function mined(clients: ChainClients, hash: Promise<Hash>): Promise<TransactionReceipt> {
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash: await hash });
  expect(receipt.status).toBe("success");
  return receipt;
}

/** Asserts that `action` reverts with the custom error `errorName` carrying exactly `args`. */
export async function expectRevert(
  action: Promise<unknown>,
  errorName: string,
  args: readonly unknown[] = [],
) {
  let failure: unknown;
  try {
    await action;
  } catch (error) {
    failure = error;
  }
  expect(failure, `expected a revert with ${errorName}`).toBeInstanceOf(ViemBaseError);
  const reverted = (failure as ViemBaseError).walk((e) => e instanceof ContractFunctionRevertedError);
  expect(reverted, String(failure)).toBeInstanceOf(ContractFunctionRevertedError);
  const data = (reverted as ContractFunctionRevertedError).data;
  expect(data?.errorName).toBe(errorName);
  expect(data?.args ?? []).toEqual(args);
}
