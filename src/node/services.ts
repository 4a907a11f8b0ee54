import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Address, Hex } from "viem";
import { AccessLog } from "../audit/accessLog.js";
import { Anchorer } from "../audit/anchorer.js";
import { AuditLog } from "../audit/auditLog.js";
import { Auditor } from "../audit/auditor.js";
import { latestAnchor } from "../audit/chainAnchors.js";
import type { Deployment } from "../chain/deploy.js";
import type { ChainClients } from "../chain/clients.js";
import type { Indexer } from "../chain/indexer.js";
import type { Outbox } from "../chain/outbox.js";
import { organizationByNode } from "../chain/participantMirror.js";
import { creditMirror } from "../chain/creditMovements.js";
import type { StudyLedger } from "../chain/studyLedger.js";
import { StudyLedgerClient } from "../chain/studyLedgerClient.js";
import type { Config } from "../config/config.js";
import { HookTargets } from "../federation/hookTargets.js";
import { BreakGlassSessions } from "../consent/breakGlass.js";
import { ConsentGate } from "../consent/consentGate.js";
import { ConsentRequests } from "../consent/consentRequests.js";
import { ConsentService } from "../consent/consentService.js";
import { GranteeFeed } from "../consent/granteeFeed.js";
import { followGrants, loadGrantIndex } from "../consent/grantStore.js";
import { AccessNotifier } from "../consent/accessNotifier.js";
import { PatientNotifications } from "../consent/notifications.js";
import { PatientSettingsStore } from "../consent/patientSettings.js";
import { loadOrCreateLocalKeyProvider, type KeyProvider } from "../crypto/keyProvider.js";
import { PatientKeyring } from "../crypto/patientKeys.js";
import { EventBus } from "../events/eventBus.js";
import { signNodeRequest } from "../federation/nodeAuth.js";
import { GrantDistributor } from "../federation/grantDistribution.js";
import { FederationService } from "../federation/federationService.js";
import { locatorMirror } from "../federation/locatorMirror.js";
import { LocatorPublisher } from "../federation/locatorPublisher.js";
import { ReferralService } from "../federation/referrals.js";
import { DeliveryQueue } from "../federation/subscriptionDelivery.js";
import { SubscriptionService } from "../federation/subscriptions.js";
import { BlindIndex } from "../records/blindIndex.js";
import { PatientLinks } from "../records/patientLinks.js";
import { IntentSweeper } from "../records/intentSweeper.js";
import { blindClearMasks } from "../records/maskBlinding.js";
import { indexPatientsForSearch } from "../records/patientSearchBackfill.js";
import { RecordRepository } from "../records/repository.js";
import { MonitoringService } from "../monitoring/monitoringService.js";
import type { Store } from "../store/database.js";
import { getMeta, setMeta } from "../store/meta.js";
import { SharedState } from "../store/sharedState.js";
import type { NodeKey } from "./nodeKey.js";

/** The delivery queue's kind for monitoring alert REST hooks (a user-chosen URL: SSRF-guarded). */
const MONITORING_HOOK_KIND = "monitoring-alert";

/** The rooms of a running node, wired to each other through the seams DESIGN.md names. */
export interface Services {
  events: EventBus;
  /** Wraps the node's data keys (patient keys, issuer signing keys) under its master key. */
  keyProvider: KeyProvider;
  keyring: PatientKeyring;
  audit: AuditLog;
  /** The audit seam every room records through. */
  auditor: Auditor;
  accessLog: AccessLog;
  anchorer: Anchorer;
  /** Versions of the state other API processes change; started by startNode. */
  shared: SharedState;
  /** The consent decider (grant index and open break-glass sessions). */
  gate: ConsentGate;
  settings: PatientSettingsStore;
  breakGlass: BreakGlassSessions;
  notifications: PatientNotifications;
  /** Tells patients who asked about reads of and refusals on their record; stopped by startNode. */
  accessNotifier: AccessNotifier;
  consents: ConsentService;
  /** Practitioners' requests for a patient's grant. */
  consentRequests: ConsentRequests;
  /** Grant changes for grantees' live pages, from the shared "grants" version. */
  granteeFeed: GranteeFeed;
  records: RecordRepository;
  /** Durable outgoing pushes (REST hooks, referral notices); started by startNode. */
  deliveries: DeliveryQueue;
  subscriptions: SubscriptionService;
  referrals: ReferralService;
  /** Publishes and withdraws RecordLocator entries; started by startNode. */
  locators: LocatorPublisher;
  /** Federation between nodes: fetch, merged view, locate, discovery setting. */
  federation: FederationService;
  /** Passes the terms of grants relayed here to the nodes that enforce them. */
  grants: GrantDistributor;
  /** Completes the write and erasure intents a crash left open; started by startNode. */
  intents: IntentSweeper;
  /** Remote patient monitoring: devices, ingest, scores, alerts; started by startNode. */
  monitoring: MonitoringService;
  /** Research studies on the ledger: StudyEscrow and CareCredit through the outbox (src/chain/studyLedgerClient.ts). */
  studyLedger: StudyLedger;
}

export interface ServiceDeps {
  config: Config;
  logger: Logger;
  store: Store;
  key: NodeKey;
  clients: ChainClients;
  deployment: Deployment;
  outbox: Outbox;
  indexer: Indexer;
  organizationId: Hex;
}

/** Builds the rooms and registers their ledger-event handlers on the indexer (before it starts). */
export async function buildServices(d: ServiceDeps): Promise<Services> {
  const provider = loadOrCreateLocalKeyProvider(join(d.config.dataDir, "master-key"));
  const events = new EventBus();
  const keyring = new PatientKeyring(d.store, provider);
  await blindClearMasks(d.store, keyring);
  const audit = await AuditLog.open(d.store, { writeOnThread: true });
  const node = d.key.account.address as Address;
  const auditor = new Auditor(audit, node);
  const accessLog = new AccessLog(audit, node);
  const shared = new SharedState(d.store.db, {
    onError: (err) => d.logger.warn({ err }, "could not recheck the state shared with other processes"),
  });
  // versions first: a change committed while the state loads is applied again at the first recheck
  await shared.init();
  const index = await loadGrantIndex(d.store.db);
  followGrants(shared, d.store.db, index);
  const notifications = new PatientNotifications(d.store.db, events);
  const settings = new PatientSettingsStore(d.store.db, shared);
  const accessNotifier = new AccessNotifier({ db: d.store.db, notifications, logger: d.logger });
  await accessNotifier.start(shared);
  auditor.observe(accessNotifier.observe);
  const breakGlass = new BreakGlassSessions({
    db: d.store.db,
    settings,
    notifications,
    audit: auditor,
    keyring,
  });
  breakGlass.follow(shared);
  await breakGlass.reload();
  const links = new PatientLinks(d.store);
  links.follow(shared);
  const gate = new ConsentGate(index, breakGlass);
  const consents = new ConsentService({
    store: d.store,
    index,
    outbox: d.outbox,
    clients: d.clients,
    consentRegistry: d.deployment.consentRegistry,
    events,
    auditor,
    // the shared cursor may have been moved by another process's indexer: recheck the grants too
    waitForBlock: async (block, timeoutMs) => {
      await d.indexer.waitForBlock(block, timeoutMs);
      await shared.refresh();
    },
  });
  const granteeFeed = new GranteeFeed(d.store.db);
  // after followGrants: a grantee told of a change finds the index already changed
  granteeFeed.follow(shared);
  const consentRequests = new ConsentRequests({
    db: d.store.db,
    keyring,
    auditor,
    notifications,
    submitGrant: (input, options) => consents.submitGrant(input, options),
  });
  const anchorer = new Anchorer({
    log: audit,
    ledger: { latest: () => latestAnchor(d.clients.publicClient, d.deployment.auditAnchor, node) },
    outbox: d.outbox,
    signer: d.key.account,
    domain: { chainId: d.clients.chainId, verifyingContract: d.deployment.auditAnchor },
    intervalMs: d.config.anchorIntervalMs,
    maxEntries: d.config.anchorMaxEntries,
    ready: async () => (await organizationByNode(d.store.db, node)) !== undefined,
    logger: d.logger,
  });
  const blind = new BlindIndex(await blindIndexKey(d.store, provider));
  await indexPatientsForSearch(d.store, keyring, blind);
  const records = new RecordRepository({
    store: d.store,
    keyring,
    gate,
    breakGlass,
    links,
    auditor,
    auditEntries: audit,
    blind,
    events,
    organizationId: d.organizationId,
  });
  const intents = new IntentSweeper({
    store: d.store,
    audit,
    auditor,
    keyring,
    links,
    forgetPatient: (account) => breakGlass.forgetPatient(account),
    // a younger intent may belong to a write still in flight in another API process
    graceMs: 60_000,
    logger: d.logger,
  });
  events.on("patient.alert", (alert) => {
    settings
      .get(alert.account)
      .then((s) =>
        s.notify.breakGlass ? notifications.notify(alert.account, alert.kind, alert.detail) : undefined,
      )
      .catch((err: unknown) => d.logger.warn({ err }, "could not store a patient notification"));
  });
  d.indexer.onLog(consents.onLog);
  d.indexer.onLog(anchorer.onLog);
  d.indexer.onLog(locatorMirror(d.store.db));
  d.indexer.onLog(creditMirror(d.store.db, d.deployment.studyEscrow));
  const studyLedger = new StudyLedgerClient({
    outbox: d.outbox,
    db: d.store.db,
    publicClient: d.clients.publicClient,
    careCredit: d.deployment.careCredit,
    studyEscrow: d.deployment.studyEscrow,
    node,
    organizationId: d.organizationId,
    waitForBlock: (block, timeoutMs) => d.indexer.waitForBlock(block, timeoutMs),
  });
  const locators = new LocatorPublisher({
    db: d.store.db,
    events,
    outbox: d.outbox,
    node,
    organizationId: d.organizationId,
    logger: d.logger,
  });
  const grants = new GrantDistributor({
    db: d.store.db,
    consents,
    account: d.key.account,
    organizationId: d.organizationId,
    logger: d.logger,
    retries: {
      enqueue: (...args) => deliveries.enqueue(...args),
      kick: () => deliveries.kick(),
    },
  });
  d.indexer.onLog(grants.onLog);
  events.on("consent.granted", grants.onConsentGranted);
  const federation = new FederationService({
    db: d.store.db,
    records,
    gate,
    consents,
    auditor,
    locators,
    account: d.key.account,
    organizationId: d.organizationId,
    chainId: d.clients.chainId,
  });
  const deliveries = new DeliveryQueue({
    store: d.store,
    logger: d.logger,
    targets: new HookTargets(d.config.hookAllow),
    // user-chosen endpoints: checked against the SSRF rules at registration and at every connection
    guarded: ["subscription", MONITORING_HOOK_KIND],
    sign: (request) => signNodeRequest(d.key.account, request),
  });
  const push = {
    store: d.store,
    gate,
    notifications,
    auditor,
    deliveries,
    organizationId: d.organizationId,
  };
  const subscriptions = new SubscriptionService({ ...push, logger: d.logger });
  const referrals = new ReferralService({ ...push, logger: d.logger });
  events.on("record.stored", subscriptions.onRecordStored);
  events.on("consent.revoked", subscriptions.onConsentRevoked);
  events.on("consent.granted", referrals.onConsentGranted);
  const monitoring = new MonitoringService({
    store: d.store,
    keyring,
    gate,
    auditor,
    patients: links,
    shared,
    hookDelivery: {
      admit: (url) => deliveries.admit(MONITORING_HOOK_KIND, url),
      push: async (key, url, body) => {
        await deliveries.enqueue(key, MONITORING_HOOK_KIND, url, body);
        deliveries.kick();
      },
    },
    onError: (err) => d.logger.warn({ err }, "monitoring escalation check failed"),
  });
  return {
    events,
    keyProvider: provider,
    keyring,
    audit,
    auditor,
    accessLog,
    anchorer,
    shared,
    gate,
    settings,
    breakGlass,
    notifications,
    accessNotifier,
    consentRequests,
    granteeFeed,
    consents,
    records,
    deliveries,
    subscriptions,
    referrals,
    locators,
    federation,
    grants,
    intents,
    monitoring,
    studyLedger,
  };
}

/** The blind-index HMAC key: random once, stored wrapped by the node's key provider. */
async function blindIndexKey(store: Store, provider: KeyProvider): Promise<Uint8Array> {
  const META = "records.blindIndexKey";
  const stored = await getMeta(store.db, META);
  if (stored) return provider.unwrap(Buffer.from(stored, "base64"), META);
  const key = randomBytes(32);
  await setMeta(store.db, META, Buffer.from(await provider.wrap(key, META)).toString("base64"));
  return key;
}
