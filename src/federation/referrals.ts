import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { Logger } from "pino";
import { getAddress, type Address, type Hex } from "viem";
import type { Principal } from "../model/principal.js";
import { organizationById } from "../chain/participantMirror.js";
import type { ConsentGate } from "../consent/consentGate.js";
import { categoriesOf, categoryMask, type Category } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";
import { BaseError } from "../errors/BaseError.js";
import type { CarechainEvents } from "../events/eventBus.js";
import type { Auditor } from "../audit/auditor.js";
import type { Store } from "../store/database.js";
import type { ReferralTable } from "../store/schema.js";
import type { DeliveryQueue } from "./subscriptionDelivery.js";
import { referralView, type ReferralNotice, type ReferralView } from "./referralView.js";

export interface ReferralServiceDeps {
  store: Store;
  gate: ConsentGate;
  auditor: Auditor;
  deliveries: DeliveryQueue;
  organizationId: Hex;
  logger: Logger;
}

export interface ReferralRequest {
  patient: Address;
  toOrganization: Hex;
  categories: Category[];
  /** A SNOMED CT concept id: codes only, never free text. */
  reasonCode?: string | undefined;
}

type Row = Selectable<ReferralTable>;

/**
 * Referrals: a practitioner of this node's organization refers a patient to another organization
 * (codes only: no PHI beyond the patient's account and a SNOMED reason code). The patient accepts
 * by signing an ordinary consent Grant to the receiving organization; when the ledger's
 * ConsentGranted reaches this node the referral becomes `accepted` and the receiving organization
 * is told: by a node-signed POST /federation/referral-notice to its node (durable, retried), or a
 * stored notification when it has no node of its own. Every step is audited.
 */
export class ReferralService {
  readonly #d: ReferralServiceDeps;

  constructor(deps: ReferralServiceDeps) {
    this.#d = deps;
  }

  /** Creates a referral (status `requested`) and tells the patient. */
  async create(principal: Principal, request: ReferralRequest): Promise<ReferralView> {
    const own = this.#d.organizationId.toLowerCase();
    const patient = getAddress(request.patient);
    const toOrg = request.toOrganization.toLowerCase();
    const refuse = async (message: string) => {
      await this.#audit(
        principal,
        patient,
        "deny",
        "deny",
        request.categories,
        `referral refused: ${message}`,
      );
      return new BaseError("forbidden", message);
    };
    if (principal.kind !== "practitioner" || principal.organization?.toLowerCase() !== own)
      throw await refuse("only practitioners of this node's organization can refer");
    if (toOrg === own)
      throw new BaseError("invalid", "refer to another organization", { expression: "toOrganization" });
    const target = await organizationById(this.#d.store.db, toOrg);
    if (!target?.active) throw new BaseError("not-found", "the receiving organization is not registered");
    const now = Date.now();
    const row: Row = {
      id: randomUUID(),
      direction: "outbound",
      patient: patient.toLowerCase(),
      from_org: own,
      to_org: toOrg,
      requester: principal.account.toLowerCase(),
      categories: categoryMask(request.categories),
      reason_code: request.reasonCode ?? null,
      status: "requested",
      grant_id: null,
      created_at: now,
      updated_at: now,
    };
    await this.#d.store.db.insertInto("referrals").values(row).execute();
    await this.#audit(
      principal,
      patient,
      "share",
      "permit",
      request.categories,
      `referral ${row.id} requested`,
    );
    await this.#d.gate.notify(patient, "referral-requested", {
      referralId: row.id,
      toOrganization: toOrg,
      categories: request.categories,
    });
    const accepted = await this.#acceptFromIndex(row);
    return referralView(accepted ?? row);
  }

  /** Referrals the principal may see: a patient's own; a practitioner's organization's, from or to. */
  async list(principal: Principal): Promise<ReferralView[]> {
    const { db } = this.#d.store;
    if (principal.kind === "patient") {
      const rows = await db
        .selectFrom("referrals")
        .selectAll()
        .where("patient", "=", principal.account.toLowerCase())
        .orderBy("created_at", "desc")
        .execute();
      return rows.map(referralView);
    }
    const org = principal.organization?.toLowerCase();
    if (principal.kind !== "practitioner" || org === undefined)
      throw new BaseError("forbidden", "referrals are listed for patients and practitioners");
    const rows = await db
      .selectFrom("referrals")
      .selectAll()
      .where((eb) => eb.or([eb("from_org", "=", org), eb("to_org", "=", org)]))
      .orderBy("created_at", "desc")
      .limit(1000)
      .execute();
    for (const patient of new Set(rows.map((r) => r.patient)))
      await this.#audit(principal, getAddress(patient), "search", "permit", [], "referrals listed");
    return rows.map(referralView);
  }

  /** EventBus "consent.granted" listener: accepts the referrals the new grant answers. */
  readonly onConsentGranted = (event: CarechainEvents["consent.granted"]): void => {
    this.#acceptForPatient(event.patient).catch((err: unknown) =>
      this.#d.logger.warn({ err }, "could not apply a grant to referrals"),
    );
  };

  /** Accepts requested referrals already answered by a grant (after a restart). */
  async reconcile(): Promise<void> {
    const rows = await this.#requested();
    for (const patient of new Set(rows.map((r) => r.patient))) await this.#acceptForPatient(patient);
  }

  /**
   * Stores a referral notice received from the referring organization's node (verified by the
   * route: the signing node's organization must be the referral's `fromOrganization`).
   */
  async receiveNotice(
    node: { account: Address; organization: Hex },
    notice: ReferralNotice,
  ): Promise<ReferralView> {
    const own = this.#d.organizationId.toLowerCase();
    if (notice.fromOrganization.toLowerCase() !== node.organization.toLowerCase())
      throw new BaseError("forbidden", "the notice must come from the referring organization's node");
    if (notice.toOrganization.toLowerCase() !== own)
      throw new BaseError("invalid", "the notice is not addressed to this organization");
    const now = Date.now();
    const row: Row = {
      id: notice.referralId,
      direction: "inbound",
      patient: notice.patient.toLowerCase(),
      from_org: notice.fromOrganization.toLowerCase(),
      to_org: own,
      requester: node.account.toLowerCase(),
      categories: categoryMask(notice.categories),
      reason_code: notice.reasonCode ?? null,
      status: notice.status,
      grant_id: notice.grantId ?? null,
      created_at: now,
      updated_at: now,
    };
    await this.#d.store.db
      .insertInto("referrals")
      .values(row)
      .onConflict((oc) =>
        oc.column("id").doUpdateSet({ status: row.status, grant_id: row.grant_id, updated_at: now }),
      )
      .execute();
    const principal: Principal = {
      account: node.account,
      kind: "node",
      organization: node.organization,
      purpose: "TREAT",
      authenticatedBy: "node-signature",
      requestId: `referral-${row.id}`,
    };
    await this.#audit(
      principal,
      getAddress(row.patient),
      "receive",
      "permit",
      notice.categories,
      `referral ${row.id} received`,
    );
    await this.#d.gate.notify(own, "referral-received", {
      referralId: row.id,
      fromOrganization: row.from_org,
    });
    return referralView(row);
  }

  async #acceptForPatient(patient: string): Promise<void> {
    for (const row of await this.#requested(patient)) await this.#acceptFromIndex(row);
  }

  /** Accepts `row` when an active grant of its patient names the receiving organization. */
  async #acceptFromIndex(row: Row): Promise<Row | undefined> {
    const now = Math.floor(Date.now() / 1000);
    const grant = this.#d.gate.index
      .forPatient(getAddress(row.patient))
      .find(
        (g: Readonly<Grant>) =>
          (g.granteeKind === "organization" || g.granteeKind === "role") &&
          g.grantee.toLowerCase() === row.to_org &&
          g.revokedAt === undefined &&
          g.notAfter > now &&
          (g.categories & row.categories) !== 0,
      );
    if (!grant) return undefined;
    const res = await this.#d.store.db
      .updateTable("referrals")
      .set({ status: "accepted", grant_id: grant.grantId, updated_at: Date.now() })
      .where("id", "=", row.id)
      .where("status", "=", "requested")
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return undefined;
    const accepted: Row = { ...row, status: "accepted", grant_id: grant.grantId };
    const patient = getAddress(row.patient);
    const system: Principal = {
      account: patient,
      kind: "patient",
      purpose: "PATRQT",
      authenticatedBy: "system",
      requestId: `referral-${row.id}`,
    };
    await this.#audit(
      system,
      patient,
      "share",
      "permit",
      categoriesOf(row.categories),
      `referral ${row.id} accepted`,
    );
    await this.#tellReceiver(accepted);
    return accepted;
  }

  async #tellReceiver(row: Row): Promise<void> {
    const view = referralView(row);
    const notice: ReferralNotice = {
      referralId: row.id,
      patient: view.patient,
      fromOrganization: row.from_org as Hex,
      toOrganization: row.to_org as Hex,
      categories: view.categories,
      ...(row.reason_code ? { reasonCode: row.reason_code } : {}),
      status: "accepted",
      ...(row.grant_id ? { grantId: row.grant_id as Hex } : {}),
      time: new Date().toISOString(),
    };
    const target = await organizationById(this.#d.store.db, row.to_org);
    const endpoint = target?.endpoint ?? "";
    if (target?.active && /^https?:\/\//.test(endpoint)) {
      const url = new URL("federation/referral-notice", endpoint.endsWith("/") ? endpoint : `${endpoint}/`);
      await this.#d.deliveries.enqueue(
        `referral:${row.id}:accepted`,
        "referral-notice",
        url.toString(),
        notice,
      );
      this.#d.deliveries.kick();
    } else {
      await this.#d.gate.notify(row.to_org, "referral-accepted", {
        referralId: row.id,
        patient: view.patient,
      });
    }
  }

  #requested(patient?: string): Promise<Row[]> {
    let q = this.#d.store.db
      .selectFrom("referrals")
      .selectAll()
      .where("status", "=", "requested")
      .where("direction", "=", "outbound");
    if (patient) q = q.where("patient", "=", patient.toLowerCase());
    return q.execute();
  }

  async #audit(
    principal: Principal,
    patient: Address,
    action: "share" | "deny" | "search" | "receive",
    decision: "permit" | "deny",
    categories: readonly Category[],
    reason: string,
  ): Promise<void> {
    await this.#d.auditor.record(principal, { action, decision, patient, categories, reason });
  }
}
