import type { Address } from "viem";
import { consentRegistryAbi } from "../chain/artifacts/ConsentRegistry.js";
import { recordLocatorAbi } from "../chain/artifacts/RecordLocator.js";
import type { ChainClients } from "../chain/clients.js";
import {
  deployConsentRegistry,
  deployContracts,
  deployCredentialRegistry,
  deployRecordLocator,
  deployResearchContracts,
  type Deployment,
} from "../chain/deploy.js";
import type { Config } from "../config/config.js";
import { crashPoint } from "../config/crashPoint.js";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import { getMeta, setMeta } from "../store/meta.js";

const KEY = "chain.deployment";

interface StoredDeployment {
  chainId: number;
  participantRegistry: Address;
  consentRegistry: Address;
  /** `CONSENT_VERSION` of `consentRegistry`; absent for the first version (replaced on start). */
  consentRegistryVersion?: number;
  auditAnchor: Address;
  /** Absent in deployments made before record locators existed (upgraded on start). */
  recordLocator?: Address;
  /** `LOCATOR_VERSION` of `recordLocator`; absent for the first version (replaced on start). */
  recordLocatorVersion?: number;
  /** Absent in deployments made before health cards existed (deployed on start). */
  credentialRegistry?: Address;
  /** Absent in deployments made before research studies existed (deployed on start). */
  careCredit?: Address;
  studyEscrow?: Address;
  blockNumber: string;
  /** True when this node deployed the contracts, so it governs the registry (absent before). */
  deployedHere?: boolean;
}

/** The RecordLocator interface this node speaks (the contract's `LOCATOR_VERSION`). */
const LOCATOR_VERSION = 2;
/** The ConsentRegistry interface this node speaks (the contract's `CONSENT_VERSION`: commitments only). */
const CONSENT_VERSION = 2;

/**
 * Finds the contracts this node uses: those remembered in its database, else those named in
 * CARECHAIN_CONTRACTS (joining a consortium), else a fresh deployment (first run on the embedded
 * ledger). Checks that code is really there, so a wiped ledger is reported, not silently reused.
 * A first deployment interrupted before it is remembered here is simply made again on the next
 * start (the orphaned contracts hold nothing).
 * A remembered deployment from before RecordLocator existed, or with a RecordLocator of an earlier
 * version (one that held category bitmasks), is upgraded: CARECHAIN_CONTRACTS' `recordLocator`
 * when given, else (embedded ledger only) a fresh RecordLocator deployed now. The earlier locator
 * is no longer published to or read; its past events stay on the ledger.
 */
export async function resolveDeployment(
  store: Store,
  clients: ChainClients,
  config: Config,
): Promise<{ deployment: Deployment; deployed: boolean; governor: boolean }> {
  const remembered = await getMeta(store.db, KEY);
  let deployment: Deployment | undefined;
  let deployed = false;
  let deployedHere = false;
  if (remembered) {
    const s = JSON.parse(remembered) as StoredDeployment;
    if (s.chainId !== clients.chainId) {
      throw new BaseError(
        "config",
        `this node's database belongs to chain ${s.chainId}, but the ledger is chain ${clients.chainId}`,
      );
    }
    deployedHere = s.deployedHere === true;
    deployment = {
      chainId: s.chainId,
      participantRegistry: s.participantRegistry,
      consentRegistry:
        s.consentRegistryVersion === CONSENT_VERSION
          ? s.consentRegistry
          : await upgradeConsentRegistry(clients, config),
      auditAnchor: s.auditAnchor,
      recordLocator:
        s.recordLocator !== undefined && s.recordLocatorVersion === LOCATOR_VERSION
          ? s.recordLocator
          : await upgradeRecordLocator(clients, config, s.participantRegistry),
      credentialRegistry:
        s.credentialRegistry ?? (await addCredentialRegistry(clients, config, s.participantRegistry)),
      ...(s.careCredit !== undefined && s.studyEscrow !== undefined
        ? { careCredit: s.careCredit, studyEscrow: s.studyEscrow }
        : await addResearchContracts(clients, config, s.participantRegistry)),
      blockNumber: BigInt(s.blockNumber),
    };
  } else if (config.contracts) {
    deployment = {
      chainId: clients.chainId,
      participantRegistry: config.contracts.participantRegistry as Address,
      consentRegistry: config.contracts.consentRegistry as Address,
      auditAnchor: config.contracts.auditAnchor as Address,
      recordLocator: config.contracts.recordLocator as Address,
      credentialRegistry: await addCredentialRegistry(
        clients,
        config,
        config.contracts.participantRegistry as Address,
      ),
      ...(await addResearchContracts(clients, config, config.contracts.participantRegistry as Address)),
      blockNumber: BigInt(config.contracts.blockNumber),
    };
  } else {
    deployment = await deployContracts(clients);
    deployed = true;
    deployedHere = true;
    crashPoint("deploy:mined");
  }
  for (const [name, address] of [
    ["ParticipantRegistry", deployment.participantRegistry],
    ["ConsentRegistry", deployment.consentRegistry],
    ["AuditAnchor", deployment.auditAnchor],
    ["RecordLocator", deployment.recordLocator],
    ["CredentialRegistry", deployment.credentialRegistry],
    ["CareCredit", deployment.careCredit],
    ["StudyEscrow", deployment.studyEscrow],
  ] as const) {
    const code = await clients.publicClient.getCode({ address });
    if (!code || code === "0x") {
      throw new BaseError("unavailable", `no ${name} contract at ${address} on chain ${clients.chainId}`, {
        details: "the ledger lost its state or CARECHAIN_CONTRACTS is wrong",
      });
    }
  }
  const version = await clients.publicClient
    .readContract({
      address: deployment.recordLocator,
      abi: recordLocatorAbi,
      functionName: "LOCATOR_VERSION",
    })
    .catch(() => undefined);
  if (version !== LOCATOR_VERSION) {
    throw new BaseError(
      "config",
      `the RecordLocator at ${deployment.recordLocator} is not version ${LOCATOR_VERSION}`,
      {
        details: "a consortium governor deploys the current RecordLocator once and publishes its address",
      },
    );
  }
  const consentVersion = await clients.publicClient
    .readContract({
      address: deployment.consentRegistry,
      abi: consentRegistryAbi,
      functionName: "CONSENT_VERSION",
    })
    .catch(() => undefined);
  if (consentVersion !== CONSENT_VERSION) {
    throw new BaseError(
      "config",
      `the ConsentRegistry at ${deployment.consentRegistry} is not version ${CONSENT_VERSION}`,
      {
        details: "a consortium governor deploys the current ConsentRegistry once and publishes its address",
      },
    );
  }
  const stored: StoredDeployment = {
    chainId: deployment.chainId,
    participantRegistry: deployment.participantRegistry,
    consentRegistry: deployment.consentRegistry,
    consentRegistryVersion: CONSENT_VERSION,
    auditAnchor: deployment.auditAnchor,
    recordLocator: deployment.recordLocator,
    recordLocatorVersion: LOCATOR_VERSION,
    credentialRegistry: deployment.credentialRegistry,
    careCredit: deployment.careCredit,
    studyEscrow: deployment.studyEscrow,
    blockNumber: deployment.blockNumber.toString(),
    deployedHere,
  };
  await setMeta(store.db, KEY, JSON.stringify(stored));
  if (deployed) crashPoint("deploy:remembered");
  return { deployment, deployed, governor: deployedHere };
}

/**
 * The ConsentRegistry for a deployment remembered with the first registry, which held grant terms
 * on the ledger: CARECHAIN_CONTRACTS' `consentRegistry`, else (embedded ledger) a fresh one.
 */
async function upgradeConsentRegistry(clients: ChainClients, config: Config): Promise<Address> {
  if (config.contracts) return config.contracts.consentRegistry as Address;
  if (config.chainRpcUrl) {
    throw new BaseError(
      "config",
      "this node's ConsentRegistry is the first version: set CARECHAIN_CONTRACTS",
      {
        details: "a consortium governor deploys the current ConsentRegistry once and publishes its address",
      },
    );
  }
  return (await deployConsentRegistry(clients)).address;
}

/** The RecordLocator for a deployment remembered from before it existed (see `resolveDeployment`). */
async function upgradeRecordLocator(
  clients: ChainClients,
  config: Config,
  registry: Address,
): Promise<Address> {
  if (config.contracts) return config.contracts.recordLocator as Address;
  if (config.chainRpcUrl) {
    throw new BaseError("config", "this node's deployment has no RecordLocator: set CARECHAIN_CONTRACTS", {
      details: "a consortium governor deploys RecordLocator once and publishes its address",
    });
  }
  const { address } = await deployRecordLocator(clients, registry);
  return address;
}

/**
 * The CredentialRegistry of a deployment that has none yet: CARECHAIN_CONTRACTS' `credentialRegistry`
 * when given, else (embedded ledger only) a fresh one deployed now.
 */
async function addCredentialRegistry(
  clients: ChainClients,
  config: Config,
  registry: Address,
): Promise<Address> {
  const given = config.contracts?.credentialRegistry;
  if (given !== undefined) return given as Address;
  if (config.chainRpcUrl) {
    throw new BaseError(
      "config",
      "this node's deployment has no CredentialRegistry: set CARECHAIN_CONTRACTS",
      {
        details: "a consortium governor deploys CredentialRegistry once and publishes its address",
      },
    );
  }
  return (await deployCredentialRegistry(clients, registry)).address;
}

/**
 * CareCredit and StudyEscrow of a deployment that has none yet: CARECHAIN_CONTRACTS' `careCredit`
 * and `studyEscrow` when given, else (embedded ledger only) fresh ones deployed now, this node
 * governing minting.
 */
async function addResearchContracts(
  clients: ChainClients,
  config: Config,
  registry: Address,
): Promise<{ careCredit: Address; studyEscrow: Address }> {
  const careCredit = config.contracts?.careCredit;
  const studyEscrow = config.contracts?.studyEscrow;
  if (careCredit !== undefined && studyEscrow !== undefined)
    return { careCredit: careCredit as Address, studyEscrow: studyEscrow as Address };
  if (config.chainRpcUrl) {
    throw new BaseError(
      "config",
      "this node's deployment has no CareCredit and StudyEscrow: set CARECHAIN_CONTRACTS",
      {
        details:
          "a consortium governor deploys CareCredit and StudyEscrow once and publishes their addresses (careCredit, studyEscrow)",
      },
    );
  }
  return deployResearchContracts(clients, registry);
}
