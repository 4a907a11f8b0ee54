import { getAddress, getContractAddress, type Address, type Hash } from "viem";
import { crashPoint } from "../config/crashPoint.js";
import { BaseError } from "../errors/BaseError.js";
import { auditAnchorAbi, auditAnchorBytecode } from "./artifacts/AuditAnchor.js";
import { consentRegistryAbi, consentRegistryBytecode } from "./artifacts/ConsentRegistry.js";
import { credentialRegistryAbi, credentialRegistryBytecode } from "./artifacts/CredentialRegistry.js";
import { participantRegistryAbi, participantRegistryBytecode } from "./artifacts/ParticipantRegistry.js";
import { recordLocatorAbi, recordLocatorBytecode } from "./artifacts/RecordLocator.js";
import type { ChainClients } from "./clients.js";

/** Where the carechain contracts live on a ledger. */
export interface Deployment {
  chainId: number;
  participantRegistry: Address;
  consentRegistry: Address;
  auditAnchor: Address;
  /** Which organizations hold which categories of a patient's record (src/federation). */
  recordLocator: Address;
  /** SMART Health Card issuers, their keys and revocation lists (src/passport). */
  credentialRegistry: Address;
  /** First block holding any of the contracts: where an indexer starts reading events. */
  blockNumber: bigint;
}

/**
 * Deploys ParticipantRegistry, ConsentRegistry, AuditAnchor, RecordLocator and CredentialRegistry from
 * `clients.account` (which becomes the registry's admin and governor) and waits until all are mined. The
 * transactions are sent back to back with consecutive nonces, so on a chain with block time
 * they land in one block.
 * @param clients - Clients with the deploying account.
 * @returns The contract addresses and the deployment block.
 */
export async function deployContracts(clients: ChainClients): Promise<Deployment> {
  const { publicClient, walletClient, account } = clients;
  const nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
  const participantRegistry = getContractAddress({ from: account.address, nonce: BigInt(nonce) });

  const hashes: Hash[] = [];
  hashes.push(
    await walletClient.deployContract({
      abi: participantRegistryAbi,
      bytecode: participantRegistryBytecode,
      nonce,
    }),
  );
  crashPoint("deploy:sent");
  hashes.push(
    await walletClient.deployContract({
      abi: consentRegistryAbi,
      bytecode: consentRegistryBytecode,
      nonce: nonce + 1,
    }),
  );
  crashPoint("deploy:sent");
  hashes.push(
    await walletClient.deployContract({
      abi: auditAnchorAbi,
      bytecode: auditAnchorBytecode,
      args: [participantRegistry],
      nonce: nonce + 2,
    }),
  );
  crashPoint("deploy:sent");
  hashes.push(
    await walletClient.deployContract({
      abi: recordLocatorAbi,
      bytecode: recordLocatorBytecode,
      args: [participantRegistry],
      nonce: nonce + 3,
    }),
  );
  crashPoint("deploy:sent");
  hashes.push(
    await walletClient.deployContract({
      abi: credentialRegistryAbi,
      bytecode: credentialRegistryBytecode,
      args: [participantRegistry],
      nonce: nonce + 4,
    }),
  );
  crashPoint("deploy:sent");

  const receipts = await Promise.all(hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })));
  const addresses = receipts.map((receipt, i) => {
    if (receipt.status !== "success" || !receipt.contractAddress) {
      throw new BaseError("unavailable", "a contract deployment was reverted", {
        details: `transaction ${receipt.transactionHash} (contract ${i + 1} of ${hashes.length}) has status ${receipt.status}`,
      });
    }
    return getAddress(receipt.contractAddress);
  });
  const [registry, consent, audit, locator, credentials] = addresses as [
    Address,
    Address,
    Address,
    Address,
    Address,
  ];
  if (registry !== participantRegistry) {
    throw new BaseError("internal", "ParticipantRegistry landed at an unexpected address", {
      details: `expected ${participantRegistry}, got ${registry}: was another transaction sent from the deployer?`,
    });
  }
  const blockNumber = receipts.map((r) => r.blockNumber).reduce((a, b) => (a < b ? a : b));
  return {
    chainId: clients.chainId,
    participantRegistry: registry,
    consentRegistry: consent,
    auditAnchor: audit,
    recordLocator: locator,
    credentialRegistry: credentials,
    blockNumber,
  };
}

/**
 * Deploys only ConsentRegistry: the upgrade path of a deployment whose registry held grant terms
 * (version 1).
 * @param clients - Clients with the deploying account.
 * @returns The registry's address.
 */
export async function deployConsentRegistry(clients: ChainClients): Promise<{ address: Address }> {
  const hash = await clients.walletClient.deployContract({
    abi: consentRegistryAbi,
    bytecode: consentRegistryBytecode,
  });
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new BaseError("unavailable", "the ConsentRegistry deployment was reverted", {
      details: `transaction ${hash}`,
    });
  }
  return { address: getAddress(receipt.contractAddress) };
}

/**
 * Deploys only RecordLocator against an existing ParticipantRegistry: the upgrade path of a
 * deployment made before record locators existed.
 * @param clients - Clients with the deploying account.
 * @param participantRegistry - The consortium's registry.
 * @returns The locator's address and block.
 */
export async function deployRecordLocator(
  clients: ChainClients,
  participantRegistry: Address,
): Promise<{ address: Address; blockNumber: bigint }> {
  const hash = await clients.walletClient.deployContract({
    abi: recordLocatorAbi,
    bytecode: recordLocatorBytecode,
    args: [participantRegistry],
  });
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new BaseError("unavailable", "the RecordLocator deployment was reverted", {
      details: `transaction ${hash}`,
    });
  }
  return { address: getAddress(receipt.contractAddress), blockNumber: receipt.blockNumber };
}

/**
 * Deploys only CredentialRegistry against an existing ParticipantRegistry: the upgrade path of a
 * deployment made before health cards existed.
 * @param clients - Clients with the deploying account (it becomes the registry's governor).
 * @param participantRegistry - The consortium's registry.
 * @returns The registry's address.
 */
export async function deployCredentialRegistry(
  clients: ChainClients,
  participantRegistry: Address,
): Promise<{ address: Address }> {
  const hash = await clients.walletClient.deployContract({
    abi: credentialRegistryAbi,
    bytecode: credentialRegistryBytecode,
    args: [participantRegistry],
  });
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new BaseError("unavailable", "the CredentialRegistry deployment was reverted", {
      details: `transaction ${hash}`,
    });
  }
  return { address: getAddress(receipt.contractAddress) };
}
