import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { encodePacked, keccak256, type Hex } from "viem";
import { startAnvil, type Anvil } from "../chain/anvil.js";
import { createChainClients, type ChainClients } from "../chain/clients.js";
import { addressBookOf, contractsOf } from "../chain/contractRegistry.js";
import type { Deployment } from "../chain/deploy.js";
import { Indexer } from "../chain/indexer.js";
import { decodeArgs, Outbox } from "../chain/outbox.js";
import { organizationByNode, participantMirror } from "../chain/participantMirror.js";
import { registrationKey } from "../chain/participantAdmin.js";
import { Relayer } from "../chain/relayer.js";
import { buildApp } from "../api/app.js";
import { nodeRoutes } from "./nodeRoutes.js";
import { freePort } from "../chain/freePort.js";
import { buildServices, type Services } from "./services.js";
import { startDemoMonitoring } from "./demoMonitoring.js";
import { seedDemo } from "./demoSeed.js";
import type { Config } from "../config/config.js";
import { crashPoint } from "../config/crashPoint.js";
import { ORGANIZATION_KINDS } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import { openStore, type Store } from "../store/database.js";
import { getMeta } from "../store/meta.js";
import { resolveDeployment } from "./deployment.js";
import { createLogger } from "./logger.js";
import { loadOrCreateNodeKey, type NodeKey } from "./nodeKey.js";

/** How often the node completes the intents a crash left open (src/records/intentSweeper.ts). */
const INTENT_SWEEP_INTERVAL_MS = 5 * 60_000;

/** Everything a running node is made of; rooms and routes take what they need from it. */
export interface NodeContext {
  config: Config;
  logger: Logger;
  store: Store;
  key: NodeKey;
  clients: ChainClients;
  deployment: Deployment;
  rpcUrl: string;
  embeddedChain: boolean;
  outbox: Outbox;
  relayer: Relayer;
  indexer: Indexer;
  /** This node's organization id (bytes32). */
  organizationId: Hex;
}

export interface RunningNode {
  readonly url: string;
  readonly context: NodeContext;
  readonly services: Services;
  readonly app: FastifyInstance;
  /**
   * Settles when first-run demo seeding (started after the API listens) has finished, was not
   * needed, or stopped with the node; it never rejects (a failure is logged and resumes on the
   * next start). Resolves with the demo accounts file when this start completed the seeding.
   */
  readonly demo: Promise<string | undefined>;
  /** Stops demo seeding at its next step, then every part of the node in reverse start order. */
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  logger?: Logger;
  /**
   * Aborting it (SIGINT/SIGTERM while starting) makes start-up stop at its next step: what was
   * started is stopped and `startNode` rejects with the signal's reason.
   */
  signal?: AbortSignal | undefined;
}

/**
 * Starts one carechain node: database, ledger (embedded anvil unless CHAIN_RPC_URL), contracts
 * (deployed on first run), outbox relayer, indexer, and the HTTP API, in that order; stops them in
 * reverse order. Every failure to start is a BaseError naming what is wrong.
 */
export async function startNode(config: Config, options: StartNodeOptions = {}): Promise<RunningNode> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const signal = options.signal ?? new AbortController().signal;
  const checkpoint = (point: string) => {
    crashPoint(point);
    signal.throwIfAborted();
  };
  mkdirSync(config.dataDir, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((err: unknown) => logger.warn({ err }, "stop step failed"));
  };
  try {
    const store = await openStore({
      databaseUrl: config.databaseUrl,
      sqlitePath: join(config.dataDir, "carechain.db"),
      backgroundCheckpoints: true,
    });
    cleanups.push(() => store.close());

    const key = await loadOrCreateNodeKey(config);

    if (config.apiOnly) await assertApiOnlyReady(store, config);
    let anvil: Anvil | undefined;
    let rpcUrl = config.chainRpcUrl;
    if (rpcUrl) {
      await assertReachable(rpcUrl);
    } else {
      anvil = await startAnvil({ dataDir: join(config.dataDir, "chain") });
      const a = anvil;
      cleanups.push(() => a.stop());
      rpcUrl = anvil.rpcUrl;
    }
    // What a patient's verifier can use to read this node's ledger: the embedded ledger's loopback
    // URL, or the configured endpoint without credentials.
    const chainRpcUrl = anvil ? rpcUrl : publicRpcUrl(rpcUrl);
    const clients = await createChainClients(rpcUrl, key.account);
    const { deployment, deployed, governor } = await resolveDeployment(store, clients, config);
    checkpoint("deployment-resolved");
    const book = addressBookOf(deployment);

    const outbox = new Outbox(store);
    const relayer = new Relayer({ store, outbox, clients, account: key.account, contracts: book, logger });
    // one relayer per sender account: an API-only process leaves its intents to the node's
    if (!config.apiOnly) {
      relayer.start();
      cleanups.push(() => relayer.stop());
    }

    const indexer = new Indexer({
      store,
      publicClient: clients.publicClient,
      contracts: contractsOf(book),
      fromBlock: deployment.blockNumber,
      pollMs: anvil ? 100 : 1000,
      logger,
    });
    indexer.onLog(participantMirror(store.db));

    const organizationId = keccak256(
      encodePacked(["string", "address"], ["carechain.organization", key.account.address]),
    );
    const context: NodeContext = {
      config,
      logger,
      store,
      key,
      clients,
      deployment,
      rpcUrl,
      embeddedChain: anvil !== undefined,
      outbox,
      relayer,
      indexer,
      organizationId,
    };

    const services = await buildServices({
      config,
      logger,
      store,
      key,
      clients,
      deployment,
      outbox,
      indexer,
      organizationId,
    });
    // Stops the audit log's patient index timer, patient map worker and writing thread, after the flush below.
    cleanups.push(() => services.audit.stopBackground());
    cleanups.push(() => services.audit.flush());
    services.shared.start();
    cleanups.push(() => services.shared.stop());
    cleanups.push(() => services.accessNotifier.stop());

    await indexer.syncOnce();
    indexer.start();
    cleanups.push(() => indexer.stop());
    const port = config.port === 0 ? await freePort() : config.port;
    const publicUrl = config.publicUrl ?? `http://${config.host}:${port}`;
    if (!config.apiOnly) {
      await registerOwnOrganization(context, governor || anvil !== undefined, publicUrl);
      checkpoint("registration-intended");
      await services.anchorer.start();
      cleanups.push(async () => services.anchorer.stop());
      services.deliveries.start();
      cleanups.push(() => services.deliveries.stop());
      await services.referrals.reconcile();
      await services.locators.start();
      cleanups.push(() => services.locators.stop());
      await services.breakGlass.sealStoredReasons();
      // in the background: the log appended since the last sweep is read in pages
      services.intents.start(INTENT_SWEEP_INTERVAL_MS);
      cleanups.push(() => services.intents.stop());
    }
    cleanups.push(() => services.subscriptions.idle());

    const app = await buildApp({
      logger,
      routes: nodeRoutes({ context, services, publicUrl, chainRpcUrl, book }),
    });
    cleanups.push(() => app.close());
    services.monitoring.start();
    cleanups.push(async () => services.monitoring.stop());
    const url = await app.listen({ host: config.host, port });
    logger.info(
      { url, chainId: clients.chainId, deployed, embeddedChain: anvil !== undefined, db: store.dialect },
      "carechain node ready",
    );
    checkpoint("listening");
    const seeding = new AbortController();
    const demo =
      config.demo && !config.apiOnly
        ? runDemoSeed(context, services, seeding.signal)
        : Promise.resolve(undefined);
    if (config.demo && !config.apiOnly) {
      let stopMonitoring: (() => void) | undefined;
      void demo
        .then(async () => {
          if (!seeding.signal.aborted)
            stopMonitoring = await startDemoMonitoring(config.dataDir, services, logger);
        })
        .catch((err: unknown) => logger.warn({ err }, "demo monitoring did not start"));
      cleanups.push(async () => stopMonitoring?.());
    }
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        seeding.abort();
        await demo;
        await stopAll();
      })();
      return stopping;
    };
    return { url, context, services, app, demo, stop };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * An API-only process joins a node that already runs: it needs the node's ledger by URL (an
 * embedded ledger belongs to the node's own process) and a database that knows the contracts.
 */
async function assertApiOnlyReady(store: Store, config: Config): Promise<void> {
  if (!config.chainRpcUrl)
    throw new BaseError("config", "invalid configuration: CARECHAIN_API_ONLY needs CHAIN_RPC_URL");
  if (!config.contracts && (await getMeta(store.db, "chain.deployment")) === undefined)
    throw new BaseError(
      "config",
      "invalid configuration: CARECHAIN_API_ONLY needs a database where the node has started once",
    );
}

async function assertReachable(rpcUrl: string): Promise<void> {
  try {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (cause) {
    throw new BaseError("unavailable", `cannot reach CHAIN_RPC_URL ${publicRpcUrl(rpcUrl)}`, { cause });
  }
}

/**
 * A JSON-RPC URL as it may be shown to anyone: scheme, host and port only. User name, password,
 * path and query are dropped, since providers carry API keys in any of them.
 * @param rpcUrl - The configured CHAIN_RPC_URL.
 * @returns The URL's origin, or a placeholder when it does not parse.
 */
export function publicRpcUrl(rpcUrl: string): string {
  try {
    const u = new URL(rpcUrl);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * On a ledger this node governs (it deployed the contracts, or runs the embedded ledger), registers its own organization through
 * the outbox. On a consortium network the governors register the organization instead (README:
 * joining a consortium). An intent committed by an earlier, interrupted start is kept as it was
 * committed, even when this start's endpoint differs: the relayer submits it, and the difference is
 * logged.
 */
async function registerOwnOrganization(ctx: NodeContext, governor: boolean, endpoint: string): Promise<void> {
  const existing = await organizationByNode(ctx.store.db, ctx.key.account.address);
  if (existing) return;
  if (!governor) {
    ctx.logger.warn(
      { node: ctx.key.account.address },
      "this node's organization is not registered yet: ask a consortium governor",
    );
    return;
  }
  const key = registrationKey(ctx.organizationId);
  const committed = await ctx.outbox.byKey(key);
  if (committed) {
    const [, , , committedEndpoint] = decodeArgs(committed.args);
    if (committedEndpoint !== endpoint)
      ctx.logger.info(
        { committed: committedEndpoint, now: endpoint },
        "this node's registration was committed with another endpoint; registering that one",
      );
    return;
  }
  await ctx.outbox.intend({
    key,
    contract: "ParticipantRegistry",
    functionName: "registerOrganization",
    args: [
      ctx.organizationId,
      ctx.config.orgName,
      ORGANIZATION_KINDS.indexOf(ctx.config.orgKind),
      endpoint,
      ctx.key.account.address,
    ],
  });
}

async function runDemoSeed(
  ctx: NodeContext,
  services: Services,
  signal: AbortSignal,
): Promise<string | undefined> {
  try {
    const file = await seedDemo(ctx, services, signal);
    if (file)
      ctx.logger.info(
        { accounts: file },
        "demo data seeded: demo identities and their keys are in this file",
      );
    return file;
  } catch (error) {
    if (signal.aborted) {
      ctx.logger.info("demo seeding stopped with the node; it resumes on the next start");
    } else {
      ctx.logger.error({ err: error }, "demo seeding failed; it resumes on the next start");
    }
    return undefined;
  }
}
