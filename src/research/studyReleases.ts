/**
 * Releases of a study at one node, over this node's own enrolled (not withdrawn) participants:
 * a Safe Harbor extract (deidentify.ts; refused below the study's k) or a differentially private
 * aggregate (dpAggregates.ts; its ε spent on the ledger first, refused beyond the budget). Each
 * participant's record is read under purpose HRESCH and only in the categories the study asks
 * for; every release is an audit entry in the log of every contributing patient, durable before
 * the release is stored or returned; each contribution is paid exactly once (its id is
 * keccak256(release id ‖ participant), which the ledger pays at most once, and a contribution
 * whose payout intent a crash left unwritten is paid at the next start).
 */
import { randomBytes } from "node:crypto";
import { concat, keccak256, toHex, type Hex } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { StudyLedger } from "../chain/studyLedger.js";
import { BaseError } from "../errors/BaseError.js";
import { systemPrincipal, type Principal } from "../model/principal.js";
import { categoryMask } from "../model/vocabulary.js";
import type { FhirResource } from "../records/fhirTypes.js";
import type { RecordRepository } from "../records/repository.js";
import type { Store } from "../store/database.js";
import type { ResearchEnrollmentTable } from "../store/roomSchema.js";
import { ageOn, profileOf, type PatientProfile } from "./cohortProfile.js";
import { deidentify, smallestGroup } from "./deidentify.js";
import { dpCount, dpHistogram, dpMean, dpSum } from "./dpAggregates.js";
import { systemRandom, type RandomSource } from "./randomSource.js";
import { checkEpsilon, spendOnLedger } from "./studyBudget.js";
import { canonicalJson, type ReleaseSpec } from "./studyDefinition.js";
import type { StoredStudy, StudySecrets } from "./studyRecords.js";
import { toUnit } from "./ucumUnits.js";

export interface StudyReleasesDeps {
  store: Store;
  records: Pick<RecordRepository, "everythingForAccount">;
  auditor: Auditor;
  ledger: StudyLedger;
  secrets: StudySecrets;
  organizationId: Hex;
  rng?: RandomSource;
  now?: () => Date;
}

/** What one node releases (signed by the node when it crosses the consortium). */
export interface NodeRelease {
  releaseId: Hex;
  studyId: Hex;
  organization: Hex;
  kind: "extract" | "aggregate";
  /** keccak256 of the canonical JSON of `{ data, nonce }` (recorded on the ledger). */
  releaseHash: Hex;
  nonce: Hex;
  /** Extract: the smallest quasi-identifier group. Aggregate: the study's minimum k. */
  k: number;
  epsilon: number;
  data: ExtractData | AggregateData;
}

export interface ExtractData {
  kind: "extract";
  participants: number;
  resources: FhirResource[];
}

export interface AggregateData {
  kind: "aggregate";
  statistic: "count" | "sum" | "mean" | "histogram";
  /** The noisy result with its scale and 95 % error bound. */
  result: unknown;
}

const readPrincipal = (requestId: string): Principal => ({
  ...systemPrincipal(`research.${requestId}`),
  purpose: "HRESCH",
});

export class StudyReleases {
  readonly #d: StudyReleasesDeps;
  readonly #rng: RandomSource;
  readonly #now: () => Date;

  constructor(deps: StudyReleasesDeps) {
    this.#d = deps;
    this.#rng = deps.rng ?? systemRandom;
    this.#now = deps.now ?? (() => new Date());
  }

  /** Each participant's resources in the study's categories, read under HRESCH (audited). */
  async #read(study: StoredStudy, participants: readonly ResearchEnrollmentTable[], requestId: string) {
    const mask = categoryMask(study.definition.request.categories);
    const principal = readPrincipal(requestId);
    const out: { row: ResearchEnrollmentTable; resources: FhirResource[] }[] = [];
    for (const row of participants) {
      const bundle = await this.#d.records.everythingForAccount(principal, row.account as Hex, mask);
      const resources = ((bundle.entry as { resource?: FhirResource }[] | undefined) ?? [])
        .map((e) => e.resource)
        .filter((r): r is FhirResource => r !== undefined && r.resourceType !== "OperationOutcome");
      out.push({ row, resources });
    }
    return out;
  }

  /**
   * Releases this node's part of a study.
   * @param requester - Who asked (the sponsor's researcher here, or the sponsor's node).
   * @param study - The study (its sponsor checked by the caller).
   * @param epsilon - ε of an aggregate release (ignored for extracts).
   */
  async release(requester: Principal, study: StoredStudy, epsilon: number | undefined): Promise<NodeRelease> {
    const spec = study.definition.release;
    const participants = await this.#d.store.db
      .selectFrom("research_enrollments")
      .selectAll()
      .where("study_id", "=", study.studyId.toLowerCase())
      .where("withdrawn_at", "is", null)
      .orderBy("participant")
      .execute();
    const read = await this.#read(study, participants, requester.requestId);
    const secret = this.#d.secrets.secret(study.studyId);
    const now = this.#now();
    let data: ExtractData | AggregateData;
    let k: number;
    let micros = 0n;
    if (spec.kind === "extract") {
      const resources = read.flatMap(({ row, resources }) => {
        const patient = resources.find((r) => r.resourceType === "Patient");
        const birth = profileOf(patient ? [patient] : []).birthDay;
        const context = {
          account: row.account as Hex,
          age: birth === undefined ? undefined : ageOn(birth, now),
        };
        return resources.map((r) => deidentify(secret, context, r)).filter((r) => r !== undefined);
      });
      k = smallestGroup(resources.filter((r) => r.resourceType === "Patient"));
      if (k < study.definition.minK)
        throw new BaseError("conflict", "the release is below the study's minimum k: nothing released", {
          code: "business-rule",
        });
      data = { kind: "extract", participants: participants.length, resources };
    } else {
      if (epsilon === undefined)
        throw new BaseError("invalid", "an aggregate release names its epsilon", { expression: "epsilon" });
      micros = checkEpsilon(epsilon);
      k = study.definition.minK;
      const profiles = read.map(({ resources }) => profileOf(resources));
      data = {
        kind: "aggregate",
        statistic: spec.statistic,
        result: this.#aggregate(spec, profiles, epsilon, now),
      };
    }
    const nonce = toHex(randomBytes(16));
    const releaseHash = keccak256(toHex(canonicalJson({ data, nonce })));
    await spendOnLedger(this.#d.ledger, study.studyId, releaseHash, micros, k);
    const releaseId = keccak256(concat([study.studyId, this.#d.organizationId, releaseHash]));
    const release: NodeRelease = {
      releaseId,
      studyId: study.studyId,
      organization: this.#d.organizationId,
      kind: spec.kind,
      releaseHash,
      nonce,
      k,
      epsilon: Number(micros) / 1e6,
      data,
    };
    // durable audit first: no release is stored, paid or returned without its entries
    await Promise.all(
      participants.map((p) =>
        this.#d.auditor.record(requester, {
          action: "release",
          decision: "permit",
          patient: p.account,
          categories: study.definition.request.categories,
          reason: `study ${study.studyId} release ${releaseId}`,
        }),
      ),
    );
    const contributions = participants.map((p) => ({
      contribution: keccak256(concat([releaseId, p.participant as Hex])).toLowerCase(),
      release_id: releaseId,
      study_id: study.studyId.toLowerCase(),
      participant: p.participant,
      outbox_id: null,
    }));
    await this.#d.store.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("research_releases")
        .values({
          release_id: releaseId,
          study_id: study.studyId.toLowerCase(),
          kind: spec.kind,
          release_hash: releaseHash,
          epsilon_micros: Number(micros),
          k,
          participants: participants.length,
          body: JSON.stringify(release),
          requested_by: requester.account.toLowerCase(),
          created_at: Date.now(),
        })
        .execute();
      if (contributions.length > 0)
        await tx.insertInto("research_contributions").values(contributions).execute();
    });
    await this.payPending(study.studyId);
    return release;
  }

  #aggregate(
    spec: Extract<ReleaseSpec, { kind: "aggregate" }>,
    profiles: PatientProfile[],
    epsilon: number,
    now: Date,
  ) {
    if (spec.statistic === "count") return dpCount(this.#rng, profiles.length, epsilon);
    const measure = spec.measure!;
    const values: number[] = [];
    for (const p of profiles) {
      if (measure.of === "age") {
        if (p.birthDay !== undefined) values.push(ageOn(p.birthDay, now));
      } else {
        const latest = p.observations.get(measure.code)?.[0];
        const v = latest === undefined ? undefined : toUnit(latest.value, latest.unit, measure.unit);
        if (v !== undefined) values.push(Math.round(v));
      }
    }
    const [lo, hi] = spec.bounds ?? [0, 0];
    switch (spec.statistic) {
      case "sum":
        return dpSum(this.#rng, values, lo, hi, epsilon);
      case "mean":
        return dpMean(this.#rng, values, lo, hi, epsilon);
      case "histogram":
        return dpHistogram(this.#rng, values, spec.edges!, epsilon);
    }
  }

  /**
   * Writes the payout intent of every contribution that has none yet (after a release, and at the
   * node's start for what a crash interrupted). A participant who withdrew meanwhile is not paid.
   * @returns how many intents were written
   */
  async payPending(studyId?: Hex): Promise<number> {
    let q = this.#d.store.db
      .selectFrom("research_contributions as c")
      .innerJoin("research_enrollments as e", (j) =>
        j.onRef("e.study_id", "=", "c.study_id").onRef("e.participant", "=", "c.participant"),
      )
      .select(["c.contribution", "c.study_id", "c.participant", "e.withdrawn_at"])
      .where("c.outbox_id", "is", null);
    if (studyId !== undefined) q = q.where("c.study_id", "=", studyId.toLowerCase());
    const pending = await q.execute();
    let written = 0;
    for (const p of pending) {
      if (p.withdrawn_at !== null) continue;
      let outboxId: number;
      try {
        ({ outboxId } = await this.#d.ledger.pay(
          p.study_id as Hex,
          p.participant as Hex,
          p.contribution as Hex,
        ));
      } catch (err) {
        // not payable yet (the enrollment is not mined) or not payable at all (escrow, closed):
        // the row stays pending for the next call; other contributions are still paid
        if (err instanceof BaseError && err.kind !== "internal") continue;
        throw err;
      }
      await this.#d.store.db
        .updateTable("research_contributions")
        .set({ outbox_id: outboxId })
        .where("contribution", "=", p.contribution)
        .execute();
      written++;
    }
    return written;
  }

  /** The releases this node made for a study, newest first. */
  async list(studyId: Hex): Promise<NodeRelease[]> {
    const rows = await this.#d.store.db
      .selectFrom("research_releases")
      .select("body")
      .where("study_id", "=", studyId.toLowerCase())
      .orderBy("created_at", "desc")
      .execute();
    return rows.map((r) => JSON.parse(r.body) as NodeRelease);
  }
}
