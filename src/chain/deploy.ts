import {
  getAddress,
  getContractAddress,
  keccak256,
  toHex,
  type Address,
  type Hash,
  type TransactionReceipt,
} from "viem";
import { crashPoint } from "../config/crashPoint.js";
import { BaseError } from "../errors/BaseError.js";
import { auditAnchorAbi, auditAnchorBytecode } from "./artifacts/AuditAnchor.js";
import { careCreditAbi, careCreditBytecode } from "./artifacts/CareCredit.js";
import { consentRegistryAbi, consentRegistryBytecode } from "./artifacts/ConsentRegistry.js";
import { credentialRegistryAbi, credentialRegistryBytecode } from "./artifacts/CredentialRegistry.js";
import { participantRegistryAbi, participantRegistryBytecode } from "./artifacts/ParticipantRegistry.js";
import { recordLocatorAbi, recordLocatorBytecode } from "./artifacts/RecordLocator.js";
import { studyEscrowAbi, studyEscrowBytecode } from "./artifacts/StudyEscrow.js";
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
  /** The consortium's credits (ERC-20); the deployer governs minting (src/chain/studyLedgerClient.ts). */
  careCredit: Address;
  /** Research studies' escrow and payouts in CareCredit. */
  studyEscrow: Address;
  /** First block holding any of the contracts: where an indexer starts reading events. */
  blockNumber: bigint;
}

/**
 * Deploys ParticipantRegistry, ConsentRegistry, AuditAnchor, RecordLocator, CredentialRegistry,
 * CareCredit and StudyEscrow from `clients.account` (which becomes the registry's admin and
 * governor, and CareCredit's admin and minter) and waits until all are mined. The transactions are
 * sent back to back with consecutive nonces, so on a chain with block time they land in one block.
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
  const research = await sendResearchContracts(clients, participantRegistry, nonce + 5);
  hashes.push(...research.hashes);

  const receipts = await Promise.all(hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })));
  const addresses = receipts.map((receipt, i) => {
    // the last transaction is CareCredit's MINTER_ROLE grant, not a deployment
    if (i === receipts.length - 1) return undefined;
    if (receipt.status !== "success" || !receipt.contractAddress) {
      throw new BaseError("unavailable", "a contract deployment was reverted", {
        details: `transaction ${receipt.transactionHash} (contract ${i + 1} of ${hashes.length}) has status ${receipt.status}`,
      });
    }
    return getAddress(receipt.contractAddress);
  });
  const [registry, consent, audit, locator, credentials, careCredit, studyEscrow] = addresses as [
    Address,
    Address,
    Address,
    Address,
    Address,
    Address,
    Address,
  ];
  assertGranted(receipts.at(-1)!);
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
    careCredit,
    studyEscrow,
    blockNumber,
  };
}

/**
 * Sends CareCredit (admin: the deployer), StudyEscrow over it and `participantRegistry`, and the
 * grant of MINTER_ROLE to the deployer, with nonces `nonce`, `nonce + 1`, `nonce + 2`. The grant
 * carries its own gas limit: estimating it would run before CareCredit is mined.
 */
async function sendResearchContracts(
  clients: ChainClients,
  participantRegistry: Address,
  nonce: number,
): Promise<{ hashes: Hash[]; careCredit: Address; studyEscrow: Address }> {
  const { walletClient, account } = clients;
  const careCredit = getContractAddress({ from: account.address, nonce: BigInt(nonce) });
  const studyEscrow = getContractAddress({ from: account.address, nonce: BigInt(nonce + 1) });
  const hashes: Hash[] = [];
  hashes.push(
    await walletClient.deployContract({
      abi: careCreditAbi,
      bytecode: careCreditBytecode,
      args: [account.address],
      nonce,
    }),
  );
  crashPoint("deploy:sent");
  hashes.push(
    await walletClient.deployContract({
      abi: studyEscrowAbi,
      bytecode: studyEscrowBytecode,
      args: [careCredit, participantRegistry],
      nonce: nonce + 1,
    }),
  );
  crashPoint("deploy:sent");
  hashes.push(
    await walletClient.writeContract({
      address: careCredit,
      abi: careCreditAbi,
      functionName: "grantRole",
      args: [MINTER_ROLE, account.address],
      nonce: nonce + 2,
      gas: 120_000n,
    }),
  );
  crashPoint("deploy:sent");
  return { hashes, careCredit, studyEscrow };
}

/** CareCredit's MINTER_ROLE (keccak256("MINTER_ROLE")). */
export const MINTER_ROLE = keccak256(toHex("MINTER_ROLE"));

function assertGranted(receipt: TransactionReceipt): void {
  if (receipt.status !== "success") {
    throw new BaseError("unavailable", "granting CareCredit's MINTER_ROLE to the deployer was reverted", {
      details: `transaction ${receipt.transactionHash}`,
    });
  }
}

/**
 * Deploys only CareCredit and StudyEscrow (the deployer governs minting) against an existing
 * ParticipantRegistry: the upgrade path of a deployment made before research studies existed.
 * @param clients - Clients with the deploying account.
 * @param participantRegistry - The consortium's registry.
 * @returns The two addresses.
 */
export async function deployResearchContracts(
  clients: ChainClients,
  participantRegistry: Address,
): Promise<{ careCredit: Address; studyEscrow: Address }> {
  const { publicClient, account } = clients;
  const nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
  const sent = await sendResearchContracts(clients, participantRegistry, nonce);
  const receipts = await Promise.all(
    sent.hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })),
  );
  for (const receipt of receipts.slice(0, 2)) {
    if (receipt.status !== "success" || !receipt.contractAddress) {
      throw new BaseError("unavailable", "a research contract deployment was reverted", {
        details: `transaction ${receipt.transactionHash}`,
      });
    }
  }
  assertGranted(receipts[2]!);
  return { careCredit: sent.careCredit, studyEscrow: sent.studyEscrow };
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
