/**
 * Research studies at one node: a research organization's researchers create and close studies
 * (registered on the ledger through StudyLedger), the node matches its own patients against a
 * study's criteria without letting anything leave, a patient discovers the studies they match in
 * their own view and enrolls with a signed research consent or withdraws, and a researcher sees
 * differentially private feasibility counts (budget spent on the ledger). Releases and payouts are
 * in studyReleases.ts.
 */
import { randomBytes } from "node:crypto";
import { keccak256, concat, toHex, type Address, type Hex } from "viem";
import type { Auditor } from "../audit/auditor.js";
import type { StudyLedger } from "../chain/studyLedger.js";
import { BaseError } from "../errors/BaseError.js";
import { requireKind, requireRole, type Principal } from "../model/principal.js";
import { categoryMask } from "../model/vocabulary.js";
import type { FhirResource } from "../records/fhirTypes.js";
import type { RecordRepository } from "../records/repository.js";
import type { Store } from "../store/database.js";
import { isUniqueViolation } from "../store/uniqueViolation.js";
import { profileOf, matches } from "./cohortProfile.js";
import { dpCount, type NoisyValue } from "./dpAggregates.js";
import type { NodeCohort } from "./nodeCohort.js";
import { systemRandom, type RandomSource } from "./randomSource.js";
import { consentCommitment, verifyResearchConsent, type ResearchConsent } from "./researchConsent.js";
import {
  canonicalJson,
  parseStudyDefinition,
  protocolHash,
  type StudyDefinition,
} from "./studyDefinition.js";
import { StudyRows, type StoredStudy, type StudySecrets } from "./studyRecords.js";
import { checkEpsilon, spendOnLedger } from "./studyBudget.js";

export interface StudyServiceDeps {
  store: Store;
  records: Pick<RecordRepository, "everythingForAccount">;
  cohort: NodeCohort;
  auditor: Auditor;
  ledger: StudyLedger;
  secrets: StudySecrets;
  /** This node's organization id. */
  organizationId: Hex;
  chainId: number;
  rng?: RandomSource;
  now?: () => Date;
}

/** A study as a researcher or a patient sees it. */
export interface StudyView {
  studyId: Hex;
  organization: Hex;
  protocolHash: Hex;
  definition: StudyDefinition;
  createdAt: string;
  closed: boolean;
  enrollmentOpen: boolean;
}

/** What a patient sees of their own enrollment. */
export interface EnrollmentView {
  studyId: Hex;
  participant: Hex;
  payout: Address;
  enrolledAt: string;
  withdrawnAt: string | null;
  /** Releases that included the patient's data (they stay released after a withdrawal). */
  released: { releaseId: string; at: string }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The signed-in patient's own resources at this node (audited as their own read). */
export async function ownResources(
  records: Pick<RecordRepository, "everythingForAccount">,
  patient: Principal,
): Promise<FhirResource[]> {
  const bundle = await records.everythingForAccount(patient, patient.account);
  return ((bundle.entry as { resource?: FhirResource }[] | undefined) ?? [])
    .map((e) => e.resource)
    .filter((r): r is FhirResource => r !== undefined && r.resourceType !== "OperationOutcome");
}

export class StudyService {
  readonly #d: StudyServiceDeps;
  readonly rows: StudyRows;
  readonly #rng: RandomSource;
  readonly #now: () => Date;

  constructor(deps: StudyServiceDeps) {
    this.#d = deps;
    this.rows = new StudyRows(deps.store);
    this.#rng = deps.rng ?? systemRandom;
    this.#now = deps.now ?? (() => new Date());
  }

  /**
   * Throws unless the caller is a researcher of a research organization acting at its own node.
   * @returns the caller's organization
   */
  async researcher(principal: Principal): Promise<Hex> {
    const { organization } = requireRole(principal, "researcher");
    if (organization.toLowerCase() !== this.#d.organizationId.toLowerCase())
      throw new BaseError("forbidden", "researchers act at their own organization's node", {
        code: "forbidden",
      });
    const org = await this.#d.store.db
      .selectFrom("organizations")
      .select("kind")
      .where("id", "=", organization.toLowerCase())
      .executeTakeFirst();
    if (org?.kind !== "research")
      throw new BaseError("forbidden", "studies are created by research organizations", {
        code: "forbidden",
      });
    return organization.toLowerCase() as Hex;
  }

  /** The study, checked to be sponsored by the caller's organization. */
  async ownStudy(principal: Principal, studyId: Hex): Promise<StoredStudy> {
    const organization = await this.researcher(principal);
    const study = await this.rows.study(studyId);
    if (study.organization.toLowerCase() !== organization)
      throw new BaseError("forbidden", "the study belongs to another organization", { code: "forbidden" });
    return study;
  }

  #view(s: StoredStudy): StudyView {
    const now = this.#now().getTime();
    return {
      studyId: s.studyId,
      organization: s.organization,
      protocolHash: s.protocolHash,
      definition: s.definition,
      createdAt: iso(s.createdAt),
      closed: s.closedAt !== null,
      enrollmentOpen:
        s.closedAt === null &&
        now >= Date.parse(s.definition.enrollment.start) &&
        now <= Date.parse(s.definition.enrollment.end),
    };
  }

  /**
   * Creates a study and registers it on the ledger (escrowing reward × maxParticipants).
   * @param input - The definition as received.
   */
  async create(principal: Principal, input: unknown): Promise<StudyView & { outboxIds: number[] }> {
    const organization = await this.researcher(principal);
    const definition = parseStudyDefinition(input);
    const hash = protocolHash(definition);
    const studyId = keccak256(concat([organization, hash, toHex(randomBytes(16))]));
    const createdAt = Date.now();
    await this.#d.store.db
      .insertInto("research_studies")
      .values({
        study_id: studyId.toLowerCase(),
        organization,
        definition: canonicalJson(definition),
        protocol_hash: hash,
        created_by: principal.account.toLowerCase(),
        created_at: createdAt,
        closed_at: null,
      })
      .execute();
    let outboxIds: number[];
    try {
      ({ outboxIds } = await this.#d.ledger.registerStudy({
        studyId,
        protocolHash: hash,
        reward: BigInt(definition.reward),
        maxParticipants: definition.maxParticipants,
        enrollmentStart: Math.floor(Date.parse(definition.enrollment.start) / 1000),
        enrollmentEnd: Math.floor(Date.parse(definition.enrollment.end) / 1000),
        minK: definition.minK,
        epsilonBudgetMicros: BigInt(Math.round(definition.epsilonBudget * 1e6)),
      }));
    } catch (err) {
      // refused before any intent was written (credits, terms): no study
      await this.#d.store.db
        .deleteFrom("research_studies")
        .where("study_id", "=", studyId.toLowerCase())
        .execute();
      throw err;
    }
    return { ...this.#view(await this.rows.study(studyId)), outboxIds };
  }

  /** Waits until ledger writes are mined (rejects with the revert when one failed). */
  settled(outboxIds: readonly number[]): Promise<void> {
    return this.#d.ledger.settled(outboxIds);
  }

  /** Stores a study another node's organization sponsors (its definition must hash to the ledger's). */
  async receive(sponsor: Hex, studyId: Hex, input: unknown): Promise<void> {
    const definition = parseStudyDefinition(input);
    const onLedger = await this.#d.ledger.study(studyId);
    if (onLedger === null)
      throw new BaseError("not-found", "the study is not on the ledger", { expression: "studyId" });
    if (onLedger.organization.toLowerCase() !== sponsor.toLowerCase())
      throw new BaseError("forbidden", "the study belongs to another organization", { code: "forbidden" });
    if (onLedger.protocolHash.toLowerCase() !== protocolHash(definition).toLowerCase())
      throw new BaseError(
        "invalid",
        "the definition does not match the study's protocol hash on the ledger",
        {
          code: "business-rule",
          expression: "definition",
        },
      );
    await this.#d.store.db
      .insertInto("research_studies")
      .values({
        study_id: studyId.toLowerCase(),
        organization: sponsor.toLowerCase(),
        definition: canonicalJson(definition),
        protocol_hash: onLedger.protocolHash.toLowerCase(),
        created_by: sponsor.toLowerCase(),
        created_at: Date.now(),
        closed_at: null,
      })
      .onConflict((oc) => oc.column("study_id").doNothing())
      .execute();
  }

  /** Studies of the researcher's organization, with local enrollment counts and ledger state. */
  async list(principal: Principal): Promise<(StudyView & { enrolled: number; withdrawn: number })[]> {
    const organization = await this.researcher(principal);
    const own = (await this.rows.studies()).filter((s) => s.organization.toLowerCase() === organization);
    return Promise.all(own.map(async (s) => ({ ...this.#view(s), ...(await this.rows.counts(s.studyId)) })));
  }

  /** One study of the researcher's organization, with its ledger state. */
  async show(principal: Principal, studyId: Hex) {
    const study = await this.ownStudy(principal, studyId);
    const ledger = await this.#d.ledger.study(study.studyId);
    return {
      ...this.#view(study),
      here: await this.rows.counts(study.studyId),
      ledger:
        ledger === null
          ? null
          : {
              enrolled: ledger.enrolled,
              escrowed: ledger.escrowed.toString(),
              epsilonSpent: Number(ledger.epsilonSpentMicros) / 1e6,
              closed: ledger.closed,
            },
    };
  }

  /** Closes the study on the ledger (no more enrollment or payouts; the rest of the escrow returns). */
  async close(principal: Principal, studyId: Hex): Promise<{ studyId: Hex; outboxId: number }> {
    const study = await this.ownStudy(principal, studyId);
    await this.#d.store.db
      .updateTable("research_studies")
      .set({ closed_at: Date.now() })
      .where("study_id", "=", study.studyId)
      .where("closed_at", "is", null)
      .execute();
    const { outboxId } = await this.#d.ledger.close(study.studyId);
    return { studyId: study.studyId, outboxId };
  }

  /**
   * A differentially private count of this node's patients matching the study's criteria, for the
   * researcher before enrollment; its ε is spent from the study's budget on the ledger.
   */
  async feasibility(
    principal: Principal,
    studyId: Hex,
    epsilon: number,
  ): Promise<{ studyId: Hex; count: NoisyValue; epsilon: number }> {
    const study = await this.ownStudy(principal, studyId);
    return this.localFeasibility(study, epsilon);
  }

  /** The feasibility count at this node (also asked by the sponsor's node over federation). */
  async localFeasibility(
    study: StoredStudy,
    epsilon: number,
  ): Promise<{ studyId: Hex; count: NoisyValue; epsilon: number }> {
    const micros = checkEpsilon(epsilon);
    const matched = await this.#d.cohort.match(study.definition.criteria, this.#now());
    const count = dpCount(this.#rng, matched.length, epsilon);
    const body = {
      studyId: study.studyId,
      kind: "feasibility",
      count,
      epsilon,
      nonce: toHex(randomBytes(16)),
    };
    await spendOnLedger(
      this.#d.ledger,
      study.studyId,
      keccak256(toHex(canonicalJson(body))),
      micros,
      study.definition.minK,
    );
    return { studyId: study.studyId, count, epsilon };
  }

  /** Open studies whose criteria the signed-in patient's record here meets (nothing leaves the node). */
  async discover(patient: Principal): Promise<(StudyView & { enrolled: boolean })[]> {
    requireKind(patient, "patient");
    const now = this.#now();
    const open = (await this.rows.studies()).map((s) => this.#view(s)).filter((v) => v.enrollmentOpen);
    if (open.length === 0) return [];
    const profile = profileOf(await ownResources(this.#d.records, patient));
    const mine = new Set((await this.rows.enrollmentsOf(patient.account)).map((e) => e.study_id));
    return open
      .filter((v) => matches(v.definition.criteria, profile, now))
      .map((v) => ({ ...v, enrolled: mine.has(v.studyId.toLowerCase()) }));
  }

  /**
   * Enrolls the signed-in patient with their signed research consent, and enrolls their study
   * pseudonym on the ledger.
   */
  async enroll(
    patient: Principal,
    studyId: Hex,
    consent: ResearchConsent,
    signature: Hex,
  ): Promise<EnrollmentView & { outboxId: number }> {
    requireKind(patient, "patient");
    if (consent.patient.toLowerCase() !== patient.account.toLowerCase())
      throw new BaseError("forbidden", "a patient enrolls only themselves", {
        code: "forbidden",
        expression: "patient",
      });
    await verifyResearchConsent(this.#d.chainId, consent, signature);
    const study = await this.rows.study(studyId);
    if (consent.studyId.toLowerCase() !== study.studyId.toLowerCase())
      throw invalidConsent("the consent names another study", "studyId");
    if (consent.organization.toLowerCase() !== this.#d.organizationId.toLowerCase())
      throw invalidConsent("the consent names another organization's node", "organization");
    const asked = categoryMask(study.definition.request.categories);
    if ((categoryMask(consent.categories) & asked) !== asked)
      throw invalidConsent("the consent does not cover every category the study asks for", "categories");
    const view = this.#view(study);
    if (!view.enrollmentOpen)
      throw new BaseError("conflict", "the study's enrollment window is closed", { code: "business-rule" });
    if ((await this.rows.enrollment(study.studyId, patient.account)) !== undefined)
      throw new BaseError("conflict", "already enrolled in this study", { code: "duplicate" });
    const profile = profileOf(await ownResources(this.#d.records, patient));
    if (!matches(study.definition.criteria, profile, this.#now()))
      throw new BaseError("conflict", "your record here does not meet the study's criteria", {
        code: "business-rule",
      });
    const onLedger = await this.#d.ledger.study(study.studyId);
    if (onLedger !== null && onLedger.enrolled >= onLedger.maxParticipants)
      throw new BaseError("conflict", "the study has its maximum number of participants", {
        code: "business-rule",
      });
    const participant = this.#d.secrets.participant(study.studyId, patient.account);
    const salt = toHex(randomBytes(32));
    const commitment = consentCommitment(this.#d.chainId, consent, salt);
    const enrolledAt = Date.now();
    try {
      await this.#d.store.db
        .insertInto("research_enrollments")
        .values({
          study_id: study.studyId.toLowerCase(),
          account: patient.account.toLowerCase(),
          participant: participant.toLowerCase(),
          payout: consent.payout,
          consent: JSON.stringify(consent),
          signature,
          salt,
          commitment,
          enrolled_at: enrolledAt,
          withdrawn_at: null,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(this.#d.store.dialect, err))
        throw new BaseError("conflict", "already enrolled in this study", { code: "duplicate" });
      throw err;
    }
    await this.#d.auditor.record(patient, {
      action: "consent-granted",
      decision: "permit",
      patient: patient.account,
      categories: study.definition.request.categories,
      reason: `research consent to study ${study.studyId}`,
    });
    const { outboxId } = await this.#d.ledger.enroll(study.studyId, participant, consent.payout, commitment);
    return { ...(await this.enrollmentView(study.studyId, patient.account))!, outboxId };
  }

  /** Withdraws the signed-in patient: no further releases or payouts; earlier releases stay released. */
  async withdraw(patient: Principal, studyId: Hex): Promise<EnrollmentView & { outboxId: number }> {
    requireKind(patient, "patient");
    const row = await this.rows.enrollment(studyId, patient.account);
    if (row === undefined) throw new BaseError("not-found", "you are not enrolled in this study");
    if (row.withdrawn_at !== null)
      throw new BaseError("conflict", "already withdrawn from this study", { code: "duplicate" });
    // the ledger first: a withdrawal it cannot take yet (enrollment not mined) changes nothing here
    const { outboxId } = await this.#d.ledger.withdraw(row.study_id as Hex, row.participant as Hex);
    await this.#d.store.db
      .updateTable("research_enrollments")
      .set({ withdrawn_at: Date.now() })
      .where("study_id", "=", row.study_id)
      .where("account", "=", row.account)
      .execute();
    await this.#d.auditor.record(patient, {
      action: "consent-revoked",
      decision: "permit",
      patient: patient.account,
      reason: `research consent to study ${row.study_id} withdrawn`,
    });
    return { ...(await this.enrollmentView(row.study_id as Hex, patient.account))!, outboxId };
  }

  /** The patient's enrollment in a study, with what was released of them. */
  async enrollmentView(studyId: Hex, account: Address): Promise<EnrollmentView | undefined> {
    const row = await this.rows.enrollment(studyId, account);
    if (row === undefined) return undefined;
    return {
      studyId: row.study_id as Hex,
      participant: row.participant as Hex,
      payout: row.payout as Address,
      enrolledAt: iso(Number(row.enrolled_at)),
      withdrawnAt: row.withdrawn_at === null ? null : iso(Number(row.withdrawn_at)),
      released: (await this.rows.contributionsOf(row.study_id as Hex, row.participant as Hex)).map((c) => ({
        releaseId: c.releaseId,
        at: iso(c.createdAt),
      })),
    };
  }

  /** The signed-in patient's enrollments here. */
  async enrollments(patient: Principal): Promise<EnrollmentView[]> {
    requireKind(patient, "patient");
    const rows = await this.rows.enrollmentsOf(patient.account);
    const views = await Promise.all(rows.map((r) => this.enrollmentView(r.study_id as Hex, patient.account)));
    return views.filter((v) => v !== undefined);
  }

  /** The patient's credits: balance and movements at each of their study payout addresses. */
  async earnings(patient: Principal) {
    requireKind(patient, "patient");
    const rows = await this.rows.enrollmentsOf(patient.account);
    const payouts = rows.map((r) => r.payout as Address);
    const balances = await Promise.all(payouts.map((p) => this.#d.ledger.balanceOf(p)));
    const history = payouts.length === 0 ? [] : await this.#d.ledger.history(payouts);
    return {
      balance: balances.reduce((a, b) => a + b, 0n).toString(),
      studies: rows.map((r, i) => ({
        studyId: r.study_id,
        payout: r.payout,
        balance: balances[i]!.toString(),
      })),
      history: history.map((h) => ({
        kind: h.kind,
        studyId: h.studyId,
        amount: h.amount.toString(),
        to: h.to,
        blockNumber: h.blockNumber.toString(),
        transactionHash: h.transactionHash,
      })),
    };
  }
}

const invalidConsent = (message: string, expression: string) =>
  new BaseError("invalid", message, { code: "business-rule", expression });
