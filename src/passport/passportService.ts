/**
 * The digital health passport of a node: issues SMART Health Cards from a patient's own records
 * (at the patient's request, or a practitioner's of this organization for a patient who asked,
 * read under the patient's consent like any other read), revokes them through the ledger, manages
 * this organization's issuer keys on the CredentialRegistry, serves its JWKS and CRLs from the
 * on-chain state, and verifies cards against the issuers registered there.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Address, Hex } from "viem";
import { auditPatient, type Auditor } from "../audit/auditor.js";
import type { ChainReadClients } from "../chain/clients.js";
import type { Outbox } from "../chain/outbox.js";
import type { KeyProvider } from "../crypto/keyProvider.js";
import { forbidden, invalid, notFound } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { Schema } from "../store/schema.js";
import { cardBundle, cardTypes, type CardType } from "./cardBundle.js";
import { cardForms, signCard, type CardForms } from "./cardSigner.js";
import { IssuerAdmin } from "./issuerAdmin.js";
import { IssuerKeys } from "./issuerKeys.js";
import type { IssuerJwk } from "./jwk.js";
import { trustLedgerCache, type LedgerCache } from "./ledgerCache.js";
import { bytes32Of, readLedgerCache } from "./ledgerReader.js";
import type { PassportReport } from "./passportReport.js";
import { addTrustFile } from "./trustFiles.js";
import { nodeCrypto } from "./nodeCrypto.js";
import { TrustStore } from "./trustStore.js";
import { verifyPassport } from "./verifyPassport.js";

type Json = Record<string, unknown>;

/** The record reads issuance needs; the records room's repository provides them. */
export interface CardRecords {
  read(principal: Principal, type: string, id: string): Promise<unknown>;
  search(principal: Principal, type: string, params: Record<string, string>): Promise<unknown>;
  patientIdsOf(account: string): Promise<string[]>;
  patientAccount(patientId: string): Promise<Address | undefined>;
}

export interface PassportServiceDeps {
  db: Kysely<Schema>;
  keyProvider: KeyProvider;
  records: CardRecords;
  auditor: Auditor;
  outbox: Outbox;
  chain: ChainReadClients;
  registry: Address;
  organizationId: Hex;
  /** This organization's issuer URL (`iss`): the node's public URL. */
  issuerUrl: string;
  /** How long a reading of the registry serves verifications and JWKS, in ms (default 5 s). */
  ledgerTtlMs?: number;
}

export interface IssuedCard extends CardForms {
  cardId: string;
  kid: string;
  type: CardType;
  issuedAt: string;
}

/** A record that would go on a card, as the patient's own page lists it. */
export interface EligibleRecord {
  resourceType: string;
  id: string;
  /** What it is: the vaccine or the test, in the record's own words. */
  label: string;
  date: string | null;
  /** A laboratory result's value, when it has one. */
  value: string | null;
}

/** What the issuer console shows: this node's keys, their state on the ledger, cards and writes. */
export interface IssuerState {
  iss: string;
  /** When the ledger was read for `ledger`. */
  ledgerReadAt: string;
  /** This issuer on the ledger; null until registered. */
  ledger: { name: string; active: boolean } | null;
  keys: Array<{
    kid: string;
    /** On this node: active signs new cards, retired verifies old ones, revoked verifies none. */
    status: string;
    /** On the ledger: null until the key's registration is confirmed. */
    ledgerStatus: string | null;
    revokedAt: string | null;
    crlVersion: number;
    revokedRids: string[];
  }>;
  /** The newest cards this node issued (no patient named: the operator revokes by card). */
  cards: Array<CardSummary & { rid: string }>;
  /** The node's ledger writes for the passport, newest first. */
  writes: Array<{
    id: number;
    action: string;
    status: string;
    txHash: string | null;
    block: number | null;
    error: string | null;
    updatedAt: string;
  }>;
}

export interface CardSummary {
  cardId: string;
  type: string;
  kid: string;
  issuedAt: string;
  revokedAt: string | null;
}

export class PassportService {
  readonly keys: IssuerKeys;
  readonly #d: PassportServiceDeps;
  #cache: { cache: LedgerCache; at: number } | null = null;

  constructor(deps: PassportServiceDeps) {
    this.#d = deps;
    this.keys = new IssuerKeys(deps.db, deps.keyProvider);
  }

  /**
   * Issues a card of the patient's immunizations or laboratory results.
   * @param principal - the patient, or a practitioner of this organization acting for the patient
   * @param request - which patient (a patient may leave it out) and which kind of card
   */
  async issue(
    principal: Principal,
    request: { patientId?: string | undefined; type: CardType },
  ): Promise<IssuedCard> {
    const patientId = await this.#patientFor(principal, request.patientId);
    const patient = (await this.#d.records.read(principal, "Patient", patientId)) as Json;
    const resources = await this.#resourcesFor(principal, patientId, request.type);
    if (resources.length === 0) {
      throw notFound(
        `the patient has no ${request.type === "immunization" ? "Immunization" : "laboratory Observation"} to put on a card`,
      );
    }
    const key = await this.keys.active();
    const nbf = Math.floor(Date.now() / 1000);
    const rid = randomBytes(8).toString("base64url");
    const jws = signCard(
      {
        iss: this.#d.issuerUrl,
        nbf,
        types: cardTypes(request.type),
        bundle: cardBundle(patient, resources),
        rid,
      },
      key,
    );
    const cardId = randomUUID();
    await this.#d.db
      .insertInto("passport_cards")
      .values({
        card_id: cardId,
        patient_id: patientId,
        kid: key.jwk.kid,
        rid,
        card_type: request.type,
        nbf,
        issued_by: principal.account,
        revoked_at: null,
      })
      .execute();
    await this.#d.auditor.record(principal, {
      action: "issue",
      decision: "permit",
      patient: auditPatient(patientId, await this.#d.records.patientAccount(patientId)),
      resources: [
        `Patient/${patientId}`,
        ...resources.map((r) => `${String(r["resourceType"])}/${String(r["id"])}`),
      ],
    });
    return {
      cardId,
      kid: key.jwk.kid,
      type: request.type,
      issuedAt: new Date(nbf * 1000).toISOString(),
      ...cardForms(jws),
    };
  }

  /** The cards issued for a patient (the patient's own, or any for this organization's practitioners). */
  async cards(principal: Principal, patientId?: string): Promise<CardSummary[]> {
    const id = await this.#patientFor(principal, patientId);
    const rows = await this.#d.db
      .selectFrom("passport_cards")
      .selectAll()
      .where("patient_id", "=", id)
      .orderBy("nbf")
      .execute();
    return rows.map((row) => ({
      cardId: row.card_id,
      type: row.card_type,
      kid: row.kid,
      issuedAt: new Date(Number(row.nbf) * 1000).toISOString(),
      revokedAt: row.revoked_at === null ? null : new Date(Number(row.revoked_at)).toISOString(),
    }));
  }

  /**
   * Revokes a card: its rid goes on its key's revocation list on the ledger, through the outbox.
   * @returns the outbox intent's id
   */
  async revokeCard(principal: Principal, cardId: string): Promise<{ outboxId: number }> {
    const row = await this.#d.db
      .selectFrom("passport_cards")
      .selectAll()
      .where("card_id", "=", cardId)
      .executeTakeFirst();
    if (row === undefined) throw notFound("no such card");
    await this.#patientFor(principal, row.patient_id, { operatorAllowed: true });
    const intent = await this.#d.outbox.intend({
      key: `passport:revoke-card:${row.kid}:${row.rid}`,
      contract: "CredentialRegistry",
      functionName: "revokeCard",
      args: [bytes32Of(row.kid), row.rid, 0n],
    });
    await this.#d.db
      .updateTable("passport_cards")
      .set({ revoked_at: Date.now() })
      .where("card_id", "=", cardId)
      .where("revoked_at", "is", null)
      .execute();
    await this.#d.auditor.record(principal, {
      action: "issue",
      decision: "permit",
      patient: auditPatient(row.patient_id, await this.#d.records.patientAccount(row.patient_id)),
      reason: "revoked",
    });
    return { outboxId: intent.id };
  }

  /**
   * The patient's records that a card of each type would hold, read as the caller (as issuance
   * reads them), summarized for the patient's own page.
   */
  async eligible(principal: Principal, patientId?: string): Promise<Record<CardType, EligibleRecord[]>> {
    const id = await this.#patientFor(principal, patientId);
    const [immunization, laboratory] = await Promise.all([
      this.#resourcesFor(principal, id, "immunization"),
      this.#resourcesFor(principal, id, "laboratory"),
    ]);
    return { immunization: immunization.map(eligibleRecord), laboratory: laboratory.map(eligibleRecord) };
  }

  /** The issuer console's view: keys here and on the ledger, CRLs, issued cards, ledger writes. */
  async issuerState(principal: Principal): Promise<IssuerState> {
    this.#requireOperator(principal);
    const [local, cache, cards, writes] = await Promise.all([
      this.keys.list(),
      this.ledgerCache(true),
      this.#d.db
        .selectFrom("passport_cards")
        .select(["card_id", "card_type", "kid", "rid", "nbf", "revoked_at"])
        .orderBy("nbf", "desc")
        .limit(100)
        .execute(),
      this.#d.db
        .selectFrom("outbox")
        .select(["id", "function_name", "status", "tx_hash", "block_number", "last_error", "updated_at"])
        .where("contract", "=", "CredentialRegistry")
        .orderBy("id", "desc")
        .limit(50)
        .execute(),
    ]);
    const issuer = cache.issuers.find((candidate) => candidate.iss === this.#d.issuerUrl);
    return {
      iss: this.#d.issuerUrl,
      ledgerReadAt: cache.readAt,
      ledger: issuer === undefined ? null : { name: issuer.name, active: issuer.active },
      keys: local.map(({ jwk, status }) => {
        const onLedger = issuer?.keys.find((key) => key.jwk.kid === jwk.kid);
        return {
          kid: jwk.kid,
          status,
          ledgerStatus: onLedger?.status ?? null,
          revokedAt:
            onLedger?.revokedAt === null || onLedger?.revokedAt === undefined
              ? null
              : new Date(onLedger.revokedAt * 1000).toISOString(),
          crlVersion: onLedger?.crl.ctr ?? 0,
          revokedRids: onLedger?.crl.rids ?? [],
        };
      }),
      cards: cards.map((row) => ({
        cardId: row.card_id,
        type: row.card_type,
        kid: row.kid,
        rid: row.rid,
        issuedAt: new Date(Number(row.nbf) * 1000).toISOString(),
        revokedAt: row.revoked_at === null ? null : new Date(Number(row.revoked_at)).toISOString(),
      })),
      writes: writes.map((row) => ({
        id: row.id,
        action: row.function_name,
        status: row.status,
        txHash: row.tx_hash,
        block: row.block_number,
        error: row.last_error,
        updatedAt: new Date(Number(row.updated_at)).toISOString(),
      })),
    };
  }

  /** The operator's issuer key management (register, rotate, revoke a key). Operator only. */
  admin(principal: Principal): IssuerAdmin {
    this.#requireOperator(principal);
    return new IssuerAdmin(this.keys, this.#d.outbox, this.#d.issuerUrl);
  }

  /** The registry as a ledger cache (at most `ledgerTtlMs` old), for offline verifiers. */
  async ledgerCache(fresh = false): Promise<LedgerCache> {
    const ttl = this.#d.ledgerTtlMs ?? 5000;
    if (!fresh && this.#cache !== null && Date.now() - this.#cache.at < ttl) return this.#cache.cache;
    const cache = await readLedgerCache(this.#d.chain, this.#d.registry);
    this.#cache = { cache, at: Date.now() };
    return cache;
  }

  /**
   * This organization's `/.well-known/jwks.json`: its keys on the ledger that are not revoked,
   * each with the `crlVersion` of its revocation list. https://spec.smarthealth.cards/#revocation
   */
  async jwks(): Promise<{ keys: IssuerJwk[] }> {
    const issuer = (await this.ledgerCache()).issuers.find(
      (candidate) => candidate.iss === this.#d.issuerUrl,
    );
    return {
      keys: (issuer?.keys ?? [])
        .filter((key) => key.status !== "revoked")
        .map((key) => (key.crl.ctr > 0 ? { ...key.jwk, crlVersion: key.crl.ctr } : key.jwk)),
    };
  }

  /** `/.well-known/crl/{kid}.json` of one of this organization's keys. */
  async crl(kid: string): Promise<{ kid: string; method: "rid"; ctr: number; rids: string[] }> {
    const issuer = (await this.ledgerCache()).issuers.find(
      (candidate) => candidate.iss === this.#d.issuerUrl,
    );
    const key = issuer?.keys.find((candidate) => candidate.jwk.kid === kid);
    if (key === undefined) throw notFound("no such issuer key");
    return { kid, method: "rid", ctr: key.crl.ctr, rids: key.crl.rids };
  }

  /**
   * Verifies cards against the issuers on the ledger, plus any trust documents the caller gives.
   * @param inputs - texts or image bytes, as `verifyPassport` takes them
   * @param trustDocuments - JWKS, CRL or PEM documents, by a name shown in the report
   */
  async verify(
    inputs: readonly (string | Uint8Array)[],
    trustDocuments: ReadonlyArray<{ name: string; content: string }> = [],
    now = new Date(),
  ): Promise<PassportReport[]> {
    const trust = new TrustStore(nodeCrypto);
    trustLedgerCache(await this.ledgerCache(), trust);
    for (const document of trustDocuments) addTrustFile(document.name, Buffer.from(document.content), trust);
    return verifyPassport(inputs, trust, now);
  }

  #requireOperator(principal: Principal): void {
    const own = principal.organization?.toLowerCase() === this.#d.organizationId.toLowerCase();
    if (!(principal.kind === "system" || (principal.kind === "node" && own))) {
      throw forbidden("only this node's operator manages its issuer keys");
    }
  }

  /**
   * The patient a request is about. A patient acts only for a Patient linked to their own account;
   * a practitioner only for this organization (whether the patient consented is decided by the
   * reads that follow); the operator (for revocation) for anyone.
   */
  async #patientFor(
    principal: Principal,
    patientId: string | undefined,
    options: { operatorAllowed?: boolean } = {},
  ): Promise<string> {
    if (principal.kind === "patient") {
      const own = await this.#d.records.patientIdsOf(principal.account);
      if (patientId === undefined) {
        const [first] = own;
        if (first === undefined) throw notFound("no Patient is linked to this account");
        return first;
      }
      if (!own.includes(patientId)) throw forbidden("a patient may only ask for cards of their own record");
      return patientId;
    }
    if (patientId === undefined) throw invalid("patient: required", { expression: "patient" });
    const own = principal.organization?.toLowerCase() === this.#d.organizationId.toLowerCase();
    if (principal.kind === "practitioner" && own) return patientId;
    if (
      options.operatorAllowed === true &&
      (principal.kind === "system" || (principal.kind === "node" && own))
    ) {
      return patientId;
    }
    throw forbidden("only the patient or a practitioner of the issuing organization may do this");
  }

  async #resourcesFor(principal: Principal, patientId: string, type: CardType): Promise<Json[]> {
    const resourceType = type === "immunization" ? "Immunization" : "Observation";
    const params: Record<string, string> =
      type === "immunization" ? { patient: patientId } : { patient: patientId, category: "laboratory" };
    const bundle = (await this.#d.records.search(principal, resourceType, { ...params, _count: "100" })) as {
      entry?: Array<{ resource?: Json; search?: { mode?: string } }>;
    };
    return (bundle.entry ?? [])
      .filter(
        (entry) => entry.resource?.["resourceType"] === resourceType && entry.search?.mode !== "include",
      )
      .map((entry) => entry.resource as Json)
      .filter((resource) => resource["status"] !== "entered-in-error");
  }
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** What a coded element says in words: its text, else its first coding's display or code. */
function words(concept: unknown): string | undefined {
  const c = concept as { text?: unknown; coding?: Array<{ display?: unknown; code?: unknown }> } | undefined;
  return text(c?.text) ?? text(c?.coding?.[0]?.display) ?? text(c?.coding?.[0]?.code);
}

function eligibleRecord(resource: Json): EligibleRecord {
  const quantity = resource["valueQuantity"] as { value?: unknown; unit?: unknown } | undefined;
  const value =
    quantity?.value !== undefined
      ? `${String(quantity.value)}${text(quantity.unit) === undefined ? "" : ` ${text(quantity.unit)}`}`
      : (words(resource["valueCodeableConcept"]) ?? text(resource["valueString"]) ?? null);
  return {
    resourceType: String(resource["resourceType"]),
    id: String(resource["id"]),
    label: words(resource["vaccineCode"] ?? resource["code"]) ?? "unnamed",
    date:
      text(resource["occurrenceDateTime"]) ??
      text(resource["effectiveDateTime"]) ??
      text(resource["issued"]) ??
      null,
    value: resource["resourceType"] === "Observation" ? value : null,
  };
}
