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
import { Outbox } from "../chain/outbox.js";
import { organizationByNode, participantMirror } from "../chain/participantMirror.js";
import { Relayer } from "../chain/relayer.js";
import { buildApp } from "../api/app.js";
import { healthRoutes } from "../api/routes/health.js";
import { homeRoutes } from "../api/routes/home.js";
import { auditEventView, auditRoutes } from "../api/routes/audit.js";
import { authRoutes } from "../api/routes/auth.js";
import { consentRoutes, consentView } from "../api/routes/consents.js";
import { fhirRoutes } from "../api/routes/fhir.js";
import { federationRoutes } from "../api/routes/federation.js";
import { referralRoutes } from "../api/routes/referrals.js";
import { subscriptionRoutes } from "../api/routes/subscriptions.js";
import { DbChallengeStore } from "../access/challengeStore.js";
import { SiweChallenges } from "../access/siwe.js";
import { freePort } from "../chain/freePort.js";
import { buildServices, type Services } from "./services.js";
import { seedDemo } from "./demoSeed.js";
import type { Config } from "../config/config.js";
import { ORGANIZATION_KINDS } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import { openStore, type Store } from "../store/database.js";
import { resolveDeployment } from "./deployment.js";
import { createLogger } from "./logger.js";
import { loadOrCreateNodeKey, type NodeKey } from "./nodeKey.js";

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
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  logger?: Logger;
}

/**
 * Starts one carechain node: database, ledger (embedded anvil unless CHAIN_RPC_URL), contracts
 * (deployed on first run), outbox relayer, indexer, and the HTTP API, in that order; stops them in
 * reverse order. Every failure to start is a BaseError naming what is wrong.
 */
export async function startNode(config: Config, options: StartNodeOptions = {}): Promise<RunningNode> {
  const logger = options.logger ?? createLogger(config.logLevel);
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
    const clients = await createChainClients(rpcUrl, key.account);
    const { deployment, deployed } = await resolveDeployment(store, clients, config);
    const book = addressBookOf(deployment);

    const outbox = new Outbox(store);
    const relayer = new Relayer({ store, outbox, clients, account: key.account, contracts: book, logger });
    relayer.start();
    cleanups.push(() => relayer.stop());

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
    cleanups.push(() => services.audit.flush());

    await indexer.syncOnce();
    indexer.start();
    cleanups.push(() => indexer.stop());
    await registerOwnOrganization(context, deployed);
    await services.anchorer.start();
    cleanups.push(async () => services.anchorer.stop());
    services.deliveries.start();
    cleanups.push(() => services.deliveries.stop());
    cleanups.push(() => services.subscriptions.idle());
    await services.referrals.reconcile();
    await services.locators.start();
    cleanups.push(() => services.locators.stop());

    const port = config.port === 0 ? await freePort() : config.port;
    const publicUrl = config.publicUrl ?? `http://${config.host}:${port}`;
    const challenges = new SiweChallenges({
      store: new DbChallengeStore(store),
      domain: new URL(publicUrl).host,
      uri: `${publicUrl}/auth`,
      chainId: clients.chainId,
      statement: `Sign in to the carechain node of ${config.orgName}`,
    });
    const nodeKey = key.privateKey;
    const auditDeps = {
      log: services.audit,
      accessLog: services.accessLog,
      nodeKey,
      node: key.account.address,
      auditAnchor: deployment.auditAnchor,
      chainId: clients.chainId,
    };

    const app = await buildApp({
      logger,
      routes: [
        homeRoutes,
        healthRoutes({
          chain: async () => ({
            rpcUrl: anvil ? "embedded" : redactRpc(rpcUrl),
            // Where a patient's verifier reads anchored roots (the embedded ledger's loopback URL).
            chainRpcUrl: anvil ? anvil.rpcUrl : redactRpc(rpcUrl),
            embedded: anvil !== undefined,
            chainId: clients.chainId,
            blockNumber: Number(await clients.publicClient.getBlockNumber()),
            contracts: { ...book },
          }),
          database: async () => {
            await store.db.selectFrom("meta").select("key").limit(1).execute();
            return {
              engine: store.dialect,
              target: store.dialect === "sqlite" ? "embedded" : store.description,
            };
          },
          indexerLag: async () => Number(await indexer.lag()),
          outboxDepth: () => outbox.depth(),
          audit: async () => {
            const check = services.anchorer.consistency();
            return {
              size: services.audit.size(),
              anchored: (await services.audit.latestTreeHead("anchored"))?.treeSize ?? 0,
              consistentWithAnchor: check?.consistent ?? null,
              ...(check?.consistent === false ? { inconsistency: check.reason } : {}),
            };
          },
          extra: async () => ({
            node: { address: key.account.address, organization: organizationId },
          }),
        }),
        authRoutes({ challenges, store, nodeKey }),
        fhirRoutes({
          records: services.records,
          nodeKey,
          federation: services.federation,
          views: { AuditEvent: auditEventView(auditDeps), Consent: consentView(services.consents, nodeKey) },
        }),
        consentRoutes({
          consents: services.consents,
          gate: services.gate,
          outbox,
          nodeKey,
        }),
        auditRoutes(auditDeps),
        subscriptionRoutes({ subscriptions: services.subscriptions, nodeKey }),
        referralRoutes({ referrals: services.referrals, store, nodeKey }),
        federationRoutes({ federation: services.federation, db: store.db, nodeKey }),
      ],
    });
    cleanups.push(() => app.close());
    const url = await app.listen({ host: config.host, port });
    logger.info(
      { url, chainId: clients.chainId, deployed, embeddedChain: anvil !== undefined, db: store.dialect },
      "carechain node ready",
    );
    if (config.demo) {
      const file = await seedDemo(context, services);
      if (file)
        logger.info({ accounts: file }, "demo data seeded: demo identities and their keys are in this file");
    }
    return { url, context, services, app, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
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
    throw new BaseError("unavailable", `cannot reach CHAIN_RPC_URL ${redactRpc(rpcUrl)}`, { cause });
  }
}

function redactRpc(rpcUrl: string): string {
  try {
    const u = new URL(rpcUrl);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * On first run on a ledger where this node is the governor (it deployed the contracts), it
 * registers its own organization through the outbox. On a consortium network the governors
 * register the organization instead (README: joining a consortium).
 */
async function registerOwnOrganization(ctx: NodeContext, deployed: boolean): Promise<void> {
  const existing = await organizationByNode(ctx.store.db, ctx.key.account.address);
  if (existing) return;
  if (!deployed && !ctx.embeddedChain) {
    ctx.logger.warn(
      { node: ctx.key.account.address },
      "this node's organization is not registered yet: ask a consortium governor",
    );
    return;
  }
  const endpoint = ctx.config.publicUrl ?? `http://${ctx.config.host}:${ctx.config.port}`;
  await ctx.outbox.intend({
    key: `register-organization:${ctx.organizationId}`,
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
