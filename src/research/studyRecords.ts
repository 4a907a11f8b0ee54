/**
 * The research room's rows (migration 027) and the per-study secrets this node derives: the
 * study's de-identification secret (pseudonyms, date shifts) and each patient's participant
 * pseudonym on the ledger. Both come from the node's own secret by HMAC, so they are stable across
 * restarts, differ between nodes and between studies, and are never stored or released.
 */
import { createHmac } from "node:crypto";
import type { Address, Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import type { ResearchEnrollmentTable, ResearchStudyTable } from "../store/roomSchema.js";
import type { StudySecret } from "./deidentify.js";
import { studyDefinitionSchema, type StudyDefinition } from "./studyDefinition.js";

export interface StoredStudy {
  studyId: Hex;
  organization: Hex;
  definition: StudyDefinition;
  protocolHash: Hex;
  createdAt: number;
  closedAt: number | null;
}

export const studyOf = (row: ResearchStudyTable): StoredStudy => ({
  studyId: row.study_id as Hex,
  organization: row.organization as Hex,
  definition: studyDefinitionSchema.parse(JSON.parse(row.definition)),
  protocolHash: row.protocol_hash as Hex,
  createdAt: Number(row.created_at),
  closedAt: row.closed_at === null ? null : Number(row.closed_at),
});

/** Derives the study secrets of this node from one node secret. */
export class StudySecrets {
  constructor(private readonly nodeSecret: Uint8Array) {}

  #mac(label: string): Buffer {
    return createHmac("sha256", this.nodeSecret).update(label).digest();
  }

  /** The study's de-identification secret at this node. */
  secret(studyId: Hex): StudySecret {
    return { key: this.#mac(`carechain research study|${studyId.toLowerCase()}`) };
  }

  /** The patient's pseudonym on the ledger in this study (bytes32; no other study can link it). */
  participant(studyId: Hex, account: Address): Hex {
    const key = this.secret(studyId).key;
    return `0x${createHmac("sha256", key).update(`participant|${account.toLowerCase()}`).digest("hex")}`;
  }
}

/** Reads of the research tables. */
export class StudyRows {
  constructor(private readonly store: Store) {}

  async study(studyId: Hex): Promise<StoredStudy> {
    const row = await this.store.db
      .selectFrom("research_studies")
      .selectAll()
      .where("study_id", "=", studyId.toLowerCase())
      .executeTakeFirst();
    if (!row) throw new BaseError("not-found", "no such study at this node", { expression: "studyId" });
    return studyOf(row);
  }

  async studies(): Promise<StoredStudy[]> {
    const rows = await this.store.db
      .selectFrom("research_studies")
      .selectAll()
      .orderBy("created_at")
      .execute();
    return rows.map(studyOf);
  }

  async enrollment(studyId: Hex, account: Address): Promise<ResearchEnrollmentTable | undefined> {
    return await this.store.db
      .selectFrom("research_enrollments")
      .selectAll()
      .where("study_id", "=", studyId.toLowerCase())
      .where("account", "=", account.toLowerCase())
      .executeTakeFirst();
  }

  async enrollmentsOf(account: Address): Promise<ResearchEnrollmentTable[]> {
    return await this.store.db
      .selectFrom("research_enrollments")
      .selectAll()
      .where("account", "=", account.toLowerCase())
      .execute();
  }

  /** Participants enrolled and not withdrawn. */
  async active(studyId: Hex): Promise<ResearchEnrollmentTable[]> {
    return await this.store.db
      .selectFrom("research_enrollments")
      .selectAll()
      .where("study_id", "=", studyId.toLowerCase())
      .where("withdrawn_at", "is", null)
      .orderBy("participant")
      .execute();
  }

  async counts(studyId: Hex): Promise<{ enrolled: number; withdrawn: number }> {
    const rows = await this.store.db
      .selectFrom("research_enrollments")
      .select(["withdrawn_at"])
      .where("study_id", "=", studyId.toLowerCase())
      .execute();
    const withdrawn = rows.filter((r) => r.withdrawn_at !== null).length;
    return { enrolled: rows.length - withdrawn, withdrawn };
  }

  /** The releases a participant contributed to (ids and times). */
  async contributionsOf(studyId: Hex, participant: Hex): Promise<{ releaseId: string; createdAt: number }[]> {
    const rows = await this.store.db
      .selectFrom("research_contributions as c")
      .innerJoin("research_releases as r", "r.release_id", "c.release_id")
      .select(["r.release_id", "r.created_at"])
      .where("c.study_id", "=", studyId.toLowerCase())
      .where("c.participant", "=", participant.toLowerCase())
      .orderBy("r.created_at")
      .execute();
    return rows.map((r) => ({ releaseId: r.release_id, createdAt: Number(r.created_at) }));
  }
}
