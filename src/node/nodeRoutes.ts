/**
 * The node's HTTP surface: every route group, wired to the node's services. The composition root
 * (startNode.ts) builds the app from this list.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { hexToBytes } from "viem";
import type { AddressBook } from "../chain/contractRegistry.js";
import { healthRoutes } from "../api/routes/health.js";
import { webAppRoutes, type DemoIdentity } from "../api/routes/webApp.js";
import { auditEventView, auditRoutes } from "../api/routes/audit.js";
import { authRoutes } from "../api/routes/auth.js";
import { consentRoutes, consentView } from "../api/routes/consents.js";
import { accessRequestRoutes } from "../api/routes/accessRequests.js";
import { ConsentChangeStreams } from "../api/routes/consentChangeStream.js";
import { registryRoutes } from "../api/routes/registry.js";
import { fhirRoutes } from "../api/routes/fhir.js";
import { federationRoutes } from "../api/routes/federation.js";
import { referralRoutes } from "../api/routes/referrals.js";
import { subscriptionRoutes } from "../api/routes/subscriptions.js";
import { passportRoutes } from "../api/routes/passport.js";
import { monitoringRoutes } from "../api/routes/monitoring.js";
import { NotificationStreams } from "../api/routes/notificationStream.js";
import { smartRoutes } from "../api/routes/smart.js";
import { guidanceRoutes } from "../api/routes/guidance.js";
import { researchRoutes } from "../api/routes/research.js";
import { bearerPrincipal } from "../api/authenticate.js";
import { PassportService } from "../passport/passportService.js";
import { DbChallengeStore } from "../access/challengeStore.js";
import { SiweChallenges } from "../access/siwe.js";
import { smartSecurity } from "../smart/configuration.js";
import { SmartService } from "../smart/smartService.js";
import { CdsClientRegistry } from "../guidance/cdsClients.js";
import { CdsHooksService } from "../guidance/cdsHooks.js";
import { signNodeRequest } from "../federation/nodeAuth.js";
import { NodeCohort } from "../research/nodeCohort.js";
import { StudyFederation } from "../research/studyFederation.js";
import { StudySecrets } from "../research/studyRecords.js";
import { StudyReleases } from "../research/studyReleases.js";
import { StudyService } from "../research/studyService.js";
import { monitoringViews } from "./monitoringViews.js";
import type { NodeContext } from "./startNode.js";
import type { Services } from "./services.js";

/** The built web app (scripts/buildWeb.js), beside src/ and dist/. */
const WEB_DIST = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "web", "dist");

export interface NodeRoutesDeps {
  context: NodeContext;
  services: Services;
  publicUrl: string;
  /** Where a patient's verifier reads anchored roots. */
  chainRpcUrl: string;
  book: AddressBook;
}

/** Every route group of the node, in registration order. */
export function nodeRoutes(deps: NodeRoutesDeps): ((app: FastifyInstance) => void | Promise<void>)[] {
  const { context, services, publicUrl, chainRpcUrl, book } = deps;
  const { config, store, key, clients, deployment, outbox, indexer, organizationId } = context;
  const challenges = new SiweChallenges({
    store: new DbChallengeStore(store),
    domain: new URL(publicUrl).host,
    uri: `${publicUrl}/auth`,
    chainId: clients.chainId,
    statement: `Sign in to the carechain node of ${config.orgName}`,
  });
  const nodeKey = key.privateKey;
  const smart = new SmartService({ store, fhirBaseUrl: `${publicUrl}/fhir` });
  const passport = new PassportService({
    db: store.db,
    keyProvider: services.keyProvider,
    records: services.records,
    auditor: services.auditor,
    outbox,
    chain: clients,
    registry: deployment.credentialRegistry,
    organizationId,
    issuerUrl: publicUrl,
  });
  const secrets = new StudySecrets(hexToBytes(nodeKey));
  const studies = new StudyService({
    store,
    records: services.records,
    cohort: new NodeCohort(store, services.keyring, services.events),
    auditor: services.auditor,
    ledger: services.studyLedger,
    secrets,
    organizationId,
    chainId: clients.chainId,
  });
  const releases = new StudyReleases({
    store,
    records: services.records,
    auditor: services.auditor,
    ledger: services.studyLedger,
    secrets,
    organizationId,
  });
  // contributions whose payout intent a crash left unwritten
  releases
    .payPending()
    .catch((err: unknown) => context.logger.warn({ err }, "could not write pending research payouts"));
  const studyFederation = new StudyFederation({
    store,
    studies,
    releases,
    organizationId,
    signRequest: (request) => signNodeRequest(key.account, request),
    signMessage: (message) => key.account.signMessage({ message }),
  });
  const auditDeps = {
    log: services.audit,
    accessLog: services.accessLog,
    nodeKey,
    node: key.account.address,
    auditAnchor: deployment.auditAnchor,
    chainId: clients.chainId,
  };
  return [
    webAppRoutes({
      distDir: WEB_DIST,
      config: async () => ({
        organization: { id: organizationId, name: config.orgName },
        node: key.account.address,
        chainId: clients.chainId,
        chainRpcUrl,
        contracts: { ...book },
        demo: config.demo,
      }),
      demoAccounts: config.demo ? () => demoIdentities(config.dataDir) : undefined,
    }),
    healthRoutes({
      chain: async () => ({
        rpcUrl: chainRpcUrl,
        // Where a patient's verifier reads anchored roots (the embedded ledger's loopback URL).
        chainRpcUrl,
        embedded: context.embeddedChain,
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
        chainRpcUrl,
        node: { address: key.account.address, organization: organizationId },
      }),
    }),
    authRoutes({ challenges, store, nodeKey }),
    smartRoutes({ smart, nodeKey, organizationId, publicUrl }),
    fhirRoutes({
      records: services.records,
      nodeKey,
      smart: { service: smart, auditor: services.auditor },
      capabilitySecurity: () => smartSecurity(publicUrl),
      federation: services.federation,
      views: {
        AuditEvent: auditEventView(auditDeps),
        Consent: consentView(services.consents),
        ...monitoringViews(services),
      },
    }),
    consentRoutes({
      consents: services.consents,
      settings: services.settings,
      breakGlass: services.breakGlass,
      notifications: services.notifications,
      streams: new NotificationStreams({
        notifications: services.notifications,
        events: services.events,
      }),
      changes: new ConsentChangeStreams(services.granteeFeed),
      nodeKey,
    }),
    accessRequestRoutes({ requests: services.consentRequests, nodeKey }),
    registryRoutes({ db: store.db, nodeKey }),
    auditRoutes(auditDeps),
    subscriptionRoutes({ subscriptions: services.subscriptions, nodeKey }),
    referralRoutes({ referrals: services.referrals, store, nodeKey }),
    federationRoutes({ federation: services.federation, db: store.db, nodeKey }),
    passportRoutes({ passport, nodeKey, organizationId }),
    guidanceRoutes({
      records: services.records,
      federation: services.federation,
      cds: new CdsHooksService({
        db: store.db,
        everything: (principal, patientId) => services.records.everything(principal, patientId),
        principalOfToken: bearerPrincipal(nodeKey, { service: smart, auditor: services.auditor }),
      }),
      cdsClients: new CdsClientRegistry(store.db, store.dialect),
      nodeKey,
      smart: { service: smart, auditor: services.auditor },
      organizationId,
      publicUrl,
      organizationNames: async () =>
        new Map(
          (await store.db.selectFrom("organizations").select(["id", "name"]).execute()).map((o) => [
            o.id.toLowerCase(),
            o.name,
          ]),
        ),
    }),
    monitoringRoutes({ monitoring: services.monitoring, nodeKey }),
    researchRoutes({ studies, federation: studyFederation, store, nodeKey }),
  ];
}

/** The demo identities seeding wrote (`--demo` only); none until seeding has written them. */
async function demoIdentities(dataDir: string): Promise<DemoIdentity[]> {
  try {
    const file = JSON.parse(await readFile(join(dataDir, "demo-accounts.json"), "utf8")) as {
      accounts?: DemoIdentity[];
    };
    return file.accounts ?? [];
  } catch {
    return [];
  }
}
