/**
 * Running a consortium of carechain node PROCESSES on one machine, for the demo, the multi-node
 * tests and the benchmark: node keys prepared ahead (so every node's address and organization id
 * are known before it starts), `carechain start` as child processes against one ledger, and the
 * governor's registrations written to the governor node's outbox, which its running relayer
 * submits (the same path an operator command takes).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { encodePacked, keccak256, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Outbox } from "../chain/outbox.js";
import { ParticipantAdmin } from "../chain/participantAdmin.js";
import { intendMint } from "../chain/studyWrites.js";
import type { OrganizationKind, PractitionerRole } from "../model/vocabulary.js";
import { writeKeystoreFile } from "../crypto/keystore.js";
import { BaseError } from "../errors/BaseError.js";
import { openStore } from "../store/database.js";

const CLI = resolve(fileURLToPath(import.meta.url), "..", "..", "..", "bin", "carechain.js");

/** The organization id `carechain start` derives for a node account. */
export function organizationIdOf(node: Address): Hex {
  return keccak256(encodePacked(["string", "address"], ["carechain.organization", node]));
}

export interface NodeSpec {
  name: string;
  kind: OrganizationKind;
  dataDir: string;
  port: number;
}

/** A running node process. */
export interface NodeProcess {
  spec: NodeSpec;
  url: string;
  account: LocalAccount;
  organizationId: Hex;
  child: ChildProcess;
  /** SIGTERM (then SIGKILL after 5 s) to this PID; resolves when it exited. */
  stop(): Promise<void>;
}

/** Contract addresses as CARECHAIN_CONTRACTS takes them. */
export interface ContractsJson {
  participantRegistry: string;
  consentRegistry: string;
  auditAnchor: string;
  recordLocator: string;
  credentialRegistry: string;
  careCredit: string;
  studyEscrow: string;
  blockNumber: number;
}

/**
 * Writes a fresh node keystore into `spec.dataDir` so the node's address is known before start.
 * @param dataDir - The node's data directory.
 * @param password - CARECHAIN_KEY_PASSWORD the node will be started with.
 * @returns The node account (its private key stays in the caller's memory: tests and demo only).
 */
export async function prepareNodeKey(dataDir: string, password: string): Promise<LocalAccount> {
  mkdirSync(dataDir, { recursive: true });
  const privateKey = generatePrivateKey();
  await writeKeystoreFile(join(dataDir, "node-key.json"), privateKey, password, { force: true });
  return privateKeyToAccount(privateKey);
}

/**
 * Starts `carechain start` as a child process and waits for its `/health`.
 * @param spec - Name, kind, data directory and port.
 * @param options - Ledger URL, contracts (absent: this node deploys and governs), key password, extra env.
 * @returns The running process.
 */
export async function spawnNode(
  spec: NodeSpec,
  options: {
    rpcUrl: string;
    account: LocalAccount;
    keyPassword: string;
    contracts?: ContractsJson;
    env?: Record<string, string>;
    onOutput?: (line: string) => void;
  },
): Promise<NodeProcess> {
  const url = `http://127.0.0.1:${spec.port}`;
  // a node process gets its database and contracts from `options`, never from the caller's environment
  const {
    DATABASE_URL: _db,
    CARECHAIN_CONTRACTS: _contracts,
    ...inherited
  } = process.env as Record<string, string>;
  const env: Record<string, string> = {
    ...inherited,
    CHAIN_RPC_URL: options.rpcUrl,
    CARECHAIN_DATA_DIR: spec.dataDir,
    CARECHAIN_KEY_PASSWORD: options.keyPassword,
    HOST: "127.0.0.1",
    PORT: String(spec.port),
    PUBLIC_URL: url,
    ORG_NAME: spec.name,
    ORG_KIND: spec.kind,
    LOG_LEVEL: "warn",
    ANCHOR_INTERVAL_MS: "1000",
    ...(options.contracts ? { CARECHAIN_CONTRACTS: JSON.stringify(options.contracts) } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, ["--max-semi-space-size=64", CLI, "start"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output = (output + text).slice(-4000);
    if (options.onOutput) for (const line of text.split("\n")) if (line.trim()) options.onOutput(line);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new BaseError("unavailable", `node ${spec.name} exited with ${child.exitCode}`, {
        details: output,
      });
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) {
        return {
          spec,
          url,
          account: options.account,
          organizationId: organizationIdOf(options.account.address),
          child,
          stop,
        };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new BaseError("timeout", `node ${spec.name} did not become healthy`, { details: output });
}

/** The contracts a running node uses, from its `/health`, as CARECHAIN_CONTRACTS takes them. */
export async function contractsOfNode(url: string): Promise<ContractsJson> {
  const health = (await (await fetch(`${url}/health`)).json()) as {
    chain: { contracts: Record<string, string> };
  };
  const c = health.chain.contracts;
  const need = (name: string): string => {
    const address = c[name];
    if (!address) throw new BaseError("unavailable", `node reports no ${name}`);
    return address;
  };
  return {
    participantRegistry: need("ParticipantRegistry"),
    consentRegistry: need("ConsentRegistry"),
    auditAnchor: need("AuditAnchor"),
    recordLocator: need("RecordLocator"),
    credentialRegistry: need("CredentialRegistry"),
    careCredit: need("CareCredit"),
    studyEscrow: need("StudyEscrow"),
    blockNumber: 0,
  };
}

/** What the governor registers. */
export interface Registrations {
  organizations: Array<{ node: NodeProcess }>;
  practitioners: Array<{ organization: Hex; account: Address; role: PractitionerRole }>;
  /** Patients' signed self-registrations (EIP-712 RegisterPatient), relayed by the governor node. */
  patients: Array<{ account: Address; signature: Hex }>;
}

/**
 * Writes the governor's registrations into the governor node's outbox (its database, opened from
 * this process) and waits until its relayer has them mined; returns the highest block.
 * @param governorDataDir - Data directory of the node that deployed the contracts.
 * @param r - Organizations, practitioners and patients to register.
 * @param timeoutMs - How long to wait for all of them.
 */
export async function registerAsGovernor(
  governorDataDir: string,
  r: Registrations,
  timeoutMs = 30_000,
): Promise<number> {
  const store = await openStore({ sqlitePath: join(governorDataDir, "carechain.db"), migrate: false });
  try {
    const outbox = new Outbox(store);
    const admin = new ParticipantAdmin(outbox);
    const ids: number[] = [];
    for (const { node } of r.organizations) {
      ids.push(
        (
          await admin.registerOrganization({
            id: node.organizationId,
            name: node.spec.name,
            kind: node.spec.kind,
            endpoint: node.url,
            node: node.account.address,
          })
        ).id,
      );
    }
    for (const p of r.patients) ids.push((await admin.registerPatient(p.account, p.signature)).id);
    // organizations first: a practitioner needs its organization on chain
    let last = 0;
    for (const id of ids) last = Math.max(last, await confirmed(outbox, id, timeoutMs));
    for (const org of new Set(r.practitioners.map((p) => p.organization.toLowerCase()))) {
      const own = await outbox.byKey(`register-organization:${org}`);
      if (own) last = Math.max(last, await confirmed(outbox, own.id, timeoutMs));
    }
    const more: number[] = [];
    for (const p of r.practitioners)
      more.push((await admin.addPractitioner(p.organization, p.account, p.role)).id);
    for (const id of more) last = Math.max(last, await confirmed(outbox, id, timeoutMs));
    return last;
  } finally {
    await store.close();
  }
}

/**
 * Mints CareCredit from the governor node (it holds MINTER_ROLE) to another node, through the
 * governor's outbox, and waits until it is mined; returns the block. `reference` makes it
 * idempotent (the same reference mints once).
 * @param governorDataDir - Data directory of the node that deployed the contracts.
 * @param to - The receiving node's account.
 * @param units - Credit units (1/100 credit).
 * @param reference - Idempotency reference of this mint.
 */
export async function mintAsGovernor(
  governorDataDir: string,
  to: Address,
  units: bigint,
  reference: string,
  timeoutMs = 30_000,
): Promise<number> {
  const store = await openStore({ sqlitePath: join(governorDataDir, "carechain.db"), migrate: false });
  try {
    const outbox = new Outbox(store);
    const { id } = await intendMint(outbox, to, units, reference);
    return await confirmed(outbox, id, timeoutMs);
  } finally {
    await store.close();
  }
}

async function confirmed(outbox: Outbox, id: number, timeoutMs: number): Promise<number> {
  const row = await outbox.waitFor(id, timeoutMs);
  if (row.status !== "confirmed") {
    throw new BaseError("unavailable", `registration ${row.function_name} ${row.status}`, {
      details: row.last_error ?? undefined,
    });
  }
  return row.block_number ?? 0;
}

/**
 * Waits until every node's indexer has read the ledger up to `block` (from `/health`).
 * @param urls - Node base URLs.
 * @param block - Block number to reach.
 */
export async function waitForIndexers(urls: string[], block: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      const h = (await (await fetch(`${url}/health`)).json()) as {
        chain: { blockNumber: number };
        indexer: { lagBlocks: number };
      };
      if (h.chain.blockNumber >= block && h.indexer.lagBlocks === 0) break;
      if (Date.now() > deadline)
        throw new BaseError("timeout", `indexer of ${url} did not reach block ${block}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
