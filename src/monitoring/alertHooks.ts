/**
 * REST hooks for monitoring alerts: a clinician registers a URL, and each alert addressed to them
 * (by the patient's consent and the escalation chain, decided at delivery time as for a live
 * stream) is POSTed to it. The monitoring room does not post anything itself: the node passes in
 * a {@link HookDelivery} — the federation room's durable queue, which refuses loopback, private
 * and reserved targets when the hook is registered and again at every connection (SSRF). The
 * body names the alert, its patient and step, never its clinical content: the receiver reads that
 * through the API under its own session, where the consent decision runs again.
 */
import { randomBytes } from "node:crypto";
import { getAddress, type Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { PractitionerRole, Purpose } from "../model/vocabulary.js";
import type { MonitoringAlertHookRow, MonitoringDb } from "./monitoringTables.js";

/** How the node delivers hook POSTs (src/node wires the federation room's delivery queue). */
export interface HookDelivery {
  /**
   * Refuses a URL the queue would not deliver to (not http(s), or a host that resolves to a
   * loopback, private or reserved address the operator did not allow).
   * @throws BaseError("invalid") naming the endpoint
   */
  admit(url: string): Promise<void>;
  /** Queues one POST, idempotent by `key`. */
  push(key: string, url: string, body: object): Promise<void>;
}

/** A hook as its owner sees it. */
export interface HookView {
  id: string;
  url: string;
  createdAt: string;
}

/** A registered hook with its owner as the consent decision sees them. */
export interface RegisteredHook {
  id: string;
  url: string;
  owner: Principal;
}

/** Hooks per clinician: enough for a pager gateway and an integration engine, not a fan-out list. */
const MAX_HOOKS_PER_OWNER = 5;
const HOOK_ID = /^hk-[0-9a-f]{24}$/;

export class AlertHooks {
  readonly #db: MonitoringDb;
  readonly #delivery: HookDelivery | undefined;
  readonly #now: () => number;

  constructor(db: MonitoringDb, delivery: HookDelivery | undefined, now: () => number = Date.now) {
    this.#db = db;
    this.#delivery = delivery;
    this.#now = now;
  }

  /**
   * Registers a hook for the calling practitioner. Its deliveries are decided as the caller is
   * now (account, role, organization, purpose of use), against the patient's consent at each alert.
   * @throws BaseError("forbidden") for a caller who is not a practitioner; ("invalid") for a URL the
   *   delivery queue refuses; ("unavailable") on a process without a delivery queue
   */
  async register(principal: Principal, url: string): Promise<HookView> {
    if (
      principal.kind !== "practitioner" ||
      principal.role === undefined ||
      principal.organization === undefined
    )
      throw new BaseError("forbidden", "alert hooks are registered by practitioners");
    if (this.#delivery === undefined)
      throw new BaseError("unavailable", "this node does not deliver REST hooks");
    await this.#delivery.admit(url);
    const owner = principal.account.toLowerCase();
    const count = await this.#db
      .selectFrom("monitoring_alert_hooks")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("owner_account", "=", owner)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_HOOKS_PER_OWNER)
      throw new BaseError("conflict", `at most ${MAX_HOOKS_PER_OWNER} alert hooks per practitioner`);
    const row: MonitoringAlertHookRow = {
      hook_id: `hk-${randomBytes(12).toString("hex")}`,
      owner_account: owner,
      owner_role: principal.role,
      owner_organization: principal.organization.toLowerCase(),
      purpose: principal.purpose,
      url,
      created_at: this.#now(),
    };
    await this.#db.insertInto("monitoring_alert_hooks").values(row).execute();
    return viewOf(row);
  }

  /** The caller's own hooks. */
  async list(principal: Principal): Promise<HookView[]> {
    const rows = await this.#db
      .selectFrom("monitoring_alert_hooks")
      .selectAll()
      .where("owner_account", "=", principal.account.toLowerCase())
      .orderBy("created_at")
      .execute();
    return rows.map(viewOf);
  }

  /**
   * Removes one of the caller's hooks.
   * @throws BaseError("not-found") for an unknown id and for another practitioner's hook
   */
  async remove(principal: Principal, hookId: string): Promise<void> {
    const done = HOOK_ID.test(hookId)
      ? await this.#db
          .deleteFrom("monitoring_alert_hooks")
          .where("hook_id", "=", hookId)
          .where("owner_account", "=", principal.account.toLowerCase())
          .executeTakeFirst()
      : undefined;
    if (done === undefined || Number(done.numDeletedRows) === 0)
      throw new BaseError("not-found", "no alert hook with this id");
  }

  /** Every registered hook, each with its owner as a principal. */
  async all(): Promise<RegisteredHook[]> {
    if (this.#delivery === undefined) return [];
    const rows = await this.#db.selectFrom("monitoring_alert_hooks").selectAll().execute();
    return rows.map((r) => ({
      id: r.hook_id,
      url: r.url,
      owner: {
        account: getAddress(r.owner_account),
        kind: "practitioner",
        role: r.owner_role as PractitionerRole,
        organization: r.owner_organization as Hex,
        purpose: r.purpose as Purpose,
        authenticatedBy: "siwe-session",
        requestId: `hook.${r.hook_id}`,
      },
    }));
  }

  /** Queues one POST to a hook; `key` makes a repeated push (same alert, hook and step) a no-op. */
  async push(hook: RegisteredHook, key: string, body: object): Promise<void> {
    await this.#delivery?.push(key, hook.url, body);
  }
}

function viewOf(row: MonitoringAlertHookRow): HookView {
  return { id: row.hook_id, url: row.url, createdAt: new Date(Number(row.created_at)).toISOString() };
}
