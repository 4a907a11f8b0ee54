/**
 * Passing a patient's signed grant terms to the nodes that must enforce them. The ledger holds
 * only each grant's commitment (docs/ledger-privacy.md), so the node that relayed a grant pushes
 * its terms, node-signed, to `POST /federation/grants` of:
 * - every organization the patient's RecordLocator names (the custodians of the patient's data),
 *   when the commitment is confirmed, and again whenever a new holder appears in the locator;
 * - the grantee's organization (the organization of an organization or role grant; each
 *   organization a practitioner grantee belongs to), so their node can present the terms.
 * A push that fails (the node is down, or answers other than 2xx) is queued in the durable delivery
 * queue (`push_deliveries`, src/federation/subscriptionDelivery.ts), node-signed again at each
 * attempt and retried with exponential backoff, across restarts, until delivered or out of
 * attempts; a patient's queued pushes are deleted when they erase their record, and a delivered
 * push keeps no body. Every receiver checks the terms against the ledger
 * (`ConsentService.acceptTerms`), so a push can neither forge nor widen a grant.
 */
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { decodeEventLog, type Address, type Hex, type LocalAccount } from "viem";
import { recordLocatorAbi } from "../chain/artifacts/RecordLocator.js";
import type { IndexedLog } from "../chain/indexer.js";
import { organizationById, practitionerRoles } from "../chain/participantMirror.js";
import type { ConsentService } from "../consent/consentService.js";
import { grantIdOf, parseSignedGrant, type SignedGrantJson } from "../consent/signConsent.js";
import type { CarechainEvents } from "../events/eventBus.js";
import { GRANTEE_KINDS } from "../model/vocabulary.js";
import { grantPushKeyPrefix } from "../store/erasureRows.js";
import type { Schema } from "../store/schema.js";
import { locate } from "./locatorMirror.js";
import { signNodeRequest } from "./nodeAuth.js";
import type { DeliveryQueue } from "./subscriptionDelivery.js";

/** The delivery queue's kind for grant-terms pushes. */
export const GRANT_PUSH_KIND = "grant-terms";

/** Path of the receiving route. */
export const GRANTS_PATH = "/federation/grants";

export interface GrantDistributorDeps {
  db: Kysely<Schema>;
  consents: Pick<ConsentService, "signedTerms" | "relayedTermsOf">;
  /** This node's key: signs the pushes. */
  account: LocalAccount;
  organizationId: Hex;
  logger?: Logger | undefined;
  timeoutMs?: number;
  /** Where a failed push waits for its retries (without it, a failed push is only logged). */
  retries?: Pick<DeliveryQueue, "enqueue" | "kick"> | undefined;
}

/** What one push achieved, for tests and logs. */
export interface PushResult {
  organization: Hex;
  status: number | "unreachable";
  /** The push failed and waits in the delivery queue for a retry. */
  queued?: true;
}

export class GrantDistributor {
  readonly #d: GrantDistributorDeps;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(deps: GrantDistributorDeps) {
    this.#d = deps;
  }

  /** EventBus "consent.granted" listener: pushes the terms of a grant this node relayed. */
  readonly onConsentGranted = (event: CarechainEvents["consent.granted"]): void => {
    if (!event.relayedHere) return;
    this.#track(this.distribute(event.grantId as Hex));
  };

  /** Indexer handler: a holder new to a patient's RecordLocator gets the grants relayed here. */
  readonly onLog = async (log: IndexedLog): Promise<void> => {
    if (log.contract !== "RecordLocator" || log.eventName !== "LocatorPublished") return;
    const event = decodeEventLog({ abi: recordLocatorAbi, topics: log.raw.topics, data: log.raw.data });
    if (event.eventName !== "LocatorPublished") return;
    const organization = event.args.organization.toLowerCase() as Hex;
    if (organization === this.#d.organizationId.toLowerCase()) return;
    const terms = await this.#d.consents.relayedTermsOf(event.args.patient);
    if (terms.length > 0) this.#track(this.#pushTo(organization, terms));
  };

  /**
   * Pushes the terms of `grantId` to the patient's holders and the grantee's organizations.
   * @param grantId - a confirmed grant held here
   * @returns one result per organization pushed to
   */
  async distribute(grantId: Hex): Promise<PushResult[]> {
    const [terms] = await this.#d.consents.signedTerms([grantId]);
    if (!terms) return [];
    const targets = await this.#targets(terms);
    const results: PushResult[] = [];
    for (const organization of targets) results.push(...(await this.#pushTo(organization, [terms])));
    return results;
  }

  /** Resolves once every push started so far has finished. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #targets(terms: SignedGrantJson): Promise<Hex[]> {
    const { grant } = terms;
    const out = new Set<string>();
    for (const holder of await locate(this.#d.db, grant.patient)) out.add(holder.organization.toLowerCase());
    if (GRANTEE_KINDS[grant.granteeKind] === "practitioner") {
      const account = `0x${grant.grantee.slice(-40)}` as Address;
      for (const r of await practitionerRoles(this.#d.db, account)) out.add(r.orgId.toLowerCase());
    } else {
      out.add(grant.grantee.toLowerCase());
    }
    out.delete(this.#d.organizationId.toLowerCase());
    return [...out].sort() as Hex[];
  }

  async #pushTo(organization: Hex, terms: SignedGrantJson[]): Promise<PushResult[]> {
    const org = await organizationById(this.#d.db, organization);
    if (!org?.active || org.endpoint === "") return [{ organization, status: "unreachable" }];
    const results: PushResult[] = [];
    for (const one of terms) {
      const url = new URL(
        GRANTS_PATH.slice(1),
        org.endpoint.endsWith("/") ? org.endpoint : `${org.endpoint}/`,
      );
      const body = JSON.stringify(one);
      try {
        const headers = await signNodeRequest(this.#d.account, {
          method: "POST",
          path: `${url.pathname}${url.search}`,
          body,
        });
        const res = await fetch(url, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(this.#d.timeoutMs ?? 5000),
        });
        await res.body?.cancel();
        if (res.ok) {
          results.push({ organization, status: res.status });
          continue;
        }
        this.#d.logger?.warn({ organization, status: res.status }, "grant terms refused by a node");
        results.push(await this.#retryLater(organization, url, one, res.status));
      } catch {
        this.#d.logger?.warn({ organization }, "grant terms not delivered: node unreachable");
        results.push(await this.#retryLater(organization, url, one, "unreachable"));
      }
    }
    return results;
  }

  /** Queues a failed push for retries with backoff (durable: survives a restart). */
  async #retryLater(
    organization: Hex,
    url: URL,
    terms: SignedGrantJson,
    status: PushResult["status"],
  ): Promise<PushResult> {
    const queue = this.#d.retries;
    if (queue === undefined) return { organization, status };
    const grantId = grantIdOf(parseSignedGrant(terms).message);
    const key = `${grantPushKeyPrefix(terms.grant.patient)}${grantId.toLowerCase()}:${organization.toLowerCase()}`;
    await queue.enqueue(key, GRANT_PUSH_KIND, url.toString(), terms);
    queue.kick();
    return { organization, status, queued: true };
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((err: unknown) =>
      this.#d.logger?.warn({ err }, "grant terms not distributed"),
    );
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }
}
