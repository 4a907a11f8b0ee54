import type { Abi, Address } from "viem";
import { BaseError } from "../errors/BaseError.js";
import { auditAnchorAbi } from "./artifacts/AuditAnchor.js";
import { careCreditAbi } from "./artifacts/CareCredit.js";
import { consentRegistryAbi } from "./artifacts/ConsentRegistry.js";
import { credentialRegistryAbi } from "./artifacts/CredentialRegistry.js";
import { participantRegistryAbi } from "./artifacts/ParticipantRegistry.js";
import { recordLocatorAbi } from "./artifacts/RecordLocator.js";
import { studyEscrowAbi } from "./artifacts/StudyEscrow.js";
import type { Deployment } from "./deploy.js";

/**
 * The contracts the node writes to through the outbox and reads through the indexer, by name.
 * The name is what the outbox stores, so a row stays meaningful across redeployments.
 */
export const CONTRACT_ABIS = {
  ParticipantRegistry: participantRegistryAbi,
  ConsentRegistry: consentRegistryAbi,
  AuditAnchor: auditAnchorAbi,
  RecordLocator: recordLocatorAbi,
  CredentialRegistry: credentialRegistryAbi,
  CareCredit: careCreditAbi,
  StudyEscrow: studyEscrowAbi,
} as const;

export type ContractName = keyof typeof CONTRACT_ABIS;

/** The typed ABI of one contract. */
export type AbiOf<N extends ContractName> = (typeof CONTRACT_ABIS)[N];

/** Where each contract lives on the ledger the node is connected to. */
export type AddressBook = Readonly<Record<ContractName, Address>>;

export const CONTRACT_NAMES = Object.keys(CONTRACT_ABIS) as ContractName[];

/** Returns the typed ABI of a contract by name. */
export function abiOf<N extends ContractName>(name: N): AbiOf<N> {
  return CONTRACT_ABIS[name];
}

/** Narrows a stored string (an outbox row, a config value) to a contract name, or throws. */
export function contractName(value: string): ContractName {
  if (!Object.hasOwn(CONTRACT_ABIS, value))
    throw new BaseError("invalid", "unknown contract name", { details: value });
  return value as ContractName;
}

/** Builds the address book from a deployment record. */
export function addressBookOf(
  deployment: Pick<
    Deployment,
    | "participantRegistry"
    | "consentRegistry"
    | "auditAnchor"
    | "recordLocator"
    | "credentialRegistry"
    | "careCredit"
    | "studyEscrow"
  >,
): AddressBook {
  return {
    ParticipantRegistry: deployment.participantRegistry,
    ConsentRegistry: deployment.consentRegistry,
    AuditAnchor: deployment.auditAnchor,
    RecordLocator: deployment.recordLocator,
    CredentialRegistry: deployment.credentialRegistry,
    CareCredit: deployment.careCredit,
    StudyEscrow: deployment.studyEscrow,
  };
}

/** The name, address and ABI of every contract in the book, in the shape the indexer takes. */
export function contractsOf(book: AddressBook): Array<{ name: ContractName; address: Address; abi: Abi }> {
  return CONTRACT_NAMES.map((name) => ({ name, address: book[name], abi: CONTRACT_ABIS[name] as Abi }));
}
