/**
 * The audit entries around every committed change to the records (docs/access-rules.md, "Audit
 * before commit"): the intent, durable before the change commits; the outcome that completes it;
 * and, once committed, the `record.stored` event that subscriptions and live views follow.
 */
import type { Principal } from "../model/principal.js";
import { auditPatient, type AuditFacts, type Auditor } from "../audit/auditor.js";
import type { EventBus } from "../events/eventBus.js";
import { crashPoint } from "./crashPoint.js";
import type { PatientLinks } from "./patientLinks.js";
import type { PreparedWrite } from "./recordWrite.js";

export class WriteJournal {
  constructor(
    private readonly auditor: Auditor,
    private readonly events: EventBus,
    private readonly links: PatientLinks,
  ) {}

  /** The entry of one prepared write with `reason` (intent, outcome, or why nothing was written). */
  facts(p: PreparedWrite, reason: string): AuditFacts {
    return {
      action: p.deleted ? "delete" : p.previous ? "update" : "create",
      decision: "permit",
      patient: auditPatient(p.patientId, p.account),
      resources: [`${p.type}/${p.id}/_history/${p.versionId}`],
      categories: p.categories,
      reason,
    };
  }

  /** The intent entries of writes about to be committed, awaited until durable. */
  async intend(principal: Principal, writes: readonly PreparedWrite[]): Promise<void> {
    await Promise.all(writes.map((p) => this.auditor.record(principal, this.facts(p, "intent"))));
    crashPoint("write:after-intent");
  }

  /** The outcome entries that complete the intents of writes whose transaction failed. */
  async failed(principal: Principal, writes: readonly PreparedWrite[]): Promise<void> {
    await Promise.all(writes.map((p) => this.auditor.record(principal, this.facts(p, "not committed"))));
  }

  /** A bundle entry that repeated the writer's own stored version (`location`): nothing written. */
  async unchanged(principal: Principal, p: PreparedWrite, location: string): Promise<void> {
    await this.auditor.record(principal, {
      ...this.facts(p, "unchanged: the writer's own version, imported again"),
      resources: [location],
    });
  }

  /** After a write committed: its Patient link in memory, its outcome entry, its event. */
  async committed(principal: Principal, p: PreparedWrite): Promise<void> {
    if (p.type === "Patient" && p.account) this.links.remember(p.id, p.account);
    await this.auditor.record(principal, this.facts(p, "committed"));
    this.events.emit("record.stored", {
      type: p.type,
      id: p.id,
      versionId: p.versionId,
      patientId: p.patientId,
      patientAccount: p.account,
      categories: p.categories,
    });
  }
}
