import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import type { Principal } from "../model/principal.js";
import type { Auditor } from "../audit/auditor.js";
import { consentRegistryAbi } from "../chain/artifacts/ConsentRegistry.js";
import type { ChainReadClients } from "../chain/clients.js";
import type { IndexedLog } from "../chain/indexer.js";
import type { Outbox } from "../chain/outbox.js";
import { BaseError } from "../errors/BaseError.js";
import type { EventBus } from "../events/eventBus.js";
import type { Store } from "../store/database.js";
import type { GrantIndex } from "./grantIndex.js";
import {
  confirmTerms,
  markRevoked,
  relayedGrantsOf,
  saveTerms,
  signedTermsOf,
  type SignedTerms,
} from "./grantStore.js";
import { GRANTEE_KINDS, categoriesOf } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";
import {
  accountToBytes32,
  consentDomain,
  grantFromMessage,
  grantIdOf,
  messageFromGrant,
  parseSignedGrant,
  parseSignedRevoke,
  recoverGrantSigner,
  recoverRevokeSigner,
  roleToBytes32,
  signedGrantToJson,
  type ConsentDomain,
  type SignedGrantJson,
} from "./signConsent.js";

export interface ConsentServiceDeps {
  store: Store;
  index: GrantIndex;
  outbox: Outbox;
  clients: ChainReadClients;
  consentRegistry: Address;
  events: EventBus;
  auditor: Auditor;
  /** Resolves once the indexer has applied every event up to `block`. */
  waitForBlock(block: bigint, timeoutMs: number): Promise<void>;
}

/** A grant commitment as ConsentRegistry holds it (unix seconds; zero when absent). */
interface Commitment {
  grantedAt: number;
  revokedAt: number;
}

/** What a node answers for terms another node passed on. */
export interface AcceptedTerms {
  grantId: Hex;
  /** `accepted`: indexed now; `known`: this node held them already. */
  status: "accepted" | "known";
}

export interface Submitted {
  grantId: Hex;
  status: "pending" | "confirmed" | "failed";
  outboxId: number;
}

/**
 * Patient-signed consent, end to end. The ledger holds only a commitment to each grant (its id,
 * the struct hash of the signed terms, and its patient) and its revocation; the terms stay off
 * the ledger. This service checks a signed Grant at the edge (the terms, the signature, replay)
 * so the patient hears about a mistake at once, keeps the terms and relays the commitment through
 * the outbox; indexes the terms once the ledger's ConsentGranted confirms them; accepts terms
 * another node passes on only when they hash to a commitment the patient recorded
 * ({@link ConsentService.acceptTerms}); and applies ConsentRevoked to whatever it holds.
 */
export class ConsentService {
  readonly domain: ConsentDomain;

  constructor(private readonly d: ConsentServiceDeps) {
    this.domain = consentDomain(d.clients.chainId, d.consentRegistry);
  }

  /** The nonce the patient's next signed Revoke must carry (ledger nonce + revocations still in the outbox). */
  async nextNonce(patient: Address): Promise<bigint> {
    const onChain = (await this.d.clients.publicClient.readContract({
      address: this.d.consentRegistry,
      abi: consentRegistryAbi,
      functionName: "nonces",
      args: [patient],
    })) as bigint;
    const pending = await this.d.store.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("contract", "=", "ConsentRegistry")
      .where("status", "in", ["pending", "signed"])
      .where("idem_key", "like", `consent:${patient.toLowerCase()}:revoke-%`)
      .executeTakeFirstOrThrow();
    return onChain + BigInt(Number(pending.n));
  }

  /**
   * Accepts a patient-signed Grant for relaying; 4xx for a forged, replayed or ill-formed one.
   * The terms are kept here (not yet counted); only their commitment goes to the ledger.
   * With `wait`, resolves once the ledger has confirmed it and decisions see it (409 if refused).
   */
  async submitGrant(input: unknown, options: { wait?: boolean } = {}): Promise<Submitted> {
    const submitted = await this.#submitGrant(input);
    return options.wait ? this.#settle(submitted) : submitted;
  }

  async #submitGrant(input: unknown): Promise<Submitted> {
    const { message, signature } = parseSignedGrant(input);
    const grantId = grantIdOf(message);
    if (this.d.index.get(grantId))
      throw new BaseError("conflict", "this grant is already on the ledger (replay)");
    const existing = await this.d.outbox.byKey(this.#key(message.patient, grantId));
    if (existing) return { grantId, status: statusOf(existing.status), outboxId: existing.id };
    if ((await this.#commitment(message.patient, grantId)).grantedAt !== 0)
      throw new BaseError("conflict", "this grant is already on the ledger (replay)");
    await this.#checkSigner(
      await safeRecover(() => recoverGrantSigner(this.domain, message, signature)),
      message.patient,
    );
    if (message.notAfter <= BigInt(Math.floor(Date.now() / 1000)))
      throw new BaseError("invalid", "the grant's validity window has already ended", {
        expression: "grant.notAfter",
      });
    // the terms first: the commitment's event finds them here
    await saveTerms(
      this.d.store.db,
      { grant: grantFromMessage(message), signature },
      { confirmedAt: null, relayedHere: true },
    );
    const { id } = await this.d.outbox.intend({
      key: this.#key(message.patient, grantId),
      contract: "ConsentRegistry",
      functionName: "grant",
      args: [message.patient, grantId, signature],
    });
    return { grantId, status: "pending", outboxId: id };
  }

  /** Accepts a patient-signed Revoke for relaying; with `wait`, resolves once it is applied. */
  async submitRevoke(input: unknown, options: { wait?: boolean } = {}): Promise<Submitted> {
    const submitted = await this.#submitRevoke(input);
    return options.wait ? this.#settle(submitted) : submitted;
  }

  async #submitRevoke(input: unknown): Promise<Submitted> {
    const { message, signature } = parseSignedRevoke(input);
    // the ledger, not the index: a patient may revoke at a node that never received the terms
    const commitment = await this.#commitment(message.patient, message.grantId);
    if (commitment.grantedAt === 0) throw new BaseError("not-found", "no such grant of this patient");
    if (commitment.revokedAt !== 0) throw new BaseError("conflict", "this grant is already revoked");
    const key = this.#key(message.patient, `revoke-${message.grantId}`);
    const existing = await this.d.outbox.byKey(key);
    if (existing)
      return { grantId: message.grantId, status: statusOf(existing.status), outboxId: existing.id };
    await this.#checkSigner(
      await safeRecover(() => recoverRevokeSigner(this.domain, message, signature)),
      message.patient,
    );
    await this.#checkNonce(message.patient, message.nonce);
    const { id } = await this.d.outbox.intend({
      key,
      contract: "ConsentRegistry",
      functionName: "revoke",
      args: [message, signature],
    });
    return { grantId: message.grantId, status: "pending", outboxId: id };
  }

  /** Waits until the ledger confirms a submission and its events are applied, so a following read sees it. */
  async #settle(submitted: Submitted): Promise<Submitted> {
    const row = await this.d.outbox.waitFor(submitted.outboxId, 15_000).catch((error: unknown) => {
      if (error instanceof BaseError && error.kind === "conflict") {
        throw new BaseError("conflict", "the ledger refused the consent", { details: error.details });
      }
      throw error;
    });
    await this.d.waitForBlock(BigInt(row.block_number ?? 0), 10_000);
    return { ...submitted, status: statusOf(row.status) };
  }

  /**
   * Indexer handler. ConsentGranted confirms terms this node relayed (it alone holds them then)
   * and indexes them; terms held by no one here wait for a node to pass them on. ConsentRevoked
   * marks a held grant revoked.
   */
  readonly onLog = async (log: IndexedLog): Promise<void> => {
    if (log.contract !== "ConsentRegistry") return;
    const args = log.args as Record<string, unknown>;
    if (log.eventName === "ConsentGranted") {
      const grantId = args.grantId as Hex;
      const patient = args.patient as Address;
      const held = await this.d.store.db
        .selectFrom("consent_grants")
        .select(["patient", "confirmed_at"])
        .where("grant_id", "=", grantId.toLowerCase())
        .executeTakeFirst();
      // the commitment counts only for the patient the terms name (their hash covers the patient)
      if (!held || held.confirmed_at !== null || !isAddressEqual(held.patient as Address, patient)) return;
      const block = await this.d.clients.publicClient.getBlock({ blockNumber: log.blockNumber });
      const grant = await confirmTerms(this.d.store.db, grantId, Number(block.timestamp));
      if (!grant) return;
      this.d.index.add(grant);
      await this.d.auditor.recordSigned(
        getAddress(grant.patient),
        log.transactionHash,
        facts("consent-granted", grant),
      );
      this.d.events.emit("consent.granted", { grantId, patient: grant.patient, relayedHere: true });
    } else if (log.eventName === "ConsentRevoked") {
      const grantId = args.grantId as Hex;
      const at = Number(args.revokedAt);
      const changed = await markRevoked(this.d.store.db, grantId, at);
      this.d.index.revoke(grantId, at);
      const grant = this.d.index.get(grantId);
      if (changed && grant) {
        await this.d.auditor.recordSigned(
          getAddress(grant.patient),
          log.transactionHash,
          facts("consent-revoked", grant),
        );
        this.d.events.emit("consent.revoked", { grantId, patient: grant.patient });
      }
    }
  };

  /**
   * Accepts a patient's signed terms that another node passed on (pushed to this node, or
   * presented with a fetch). They count only if they hash to a grant id the ledger recorded for
   * the patient they name, signed by that patient; the ledger's revocation state comes with them.
   * Nobody can forge or widen a grant: changing any term changes the id, which then matches no
   * commitment. Checked again after storing, so a revocation mined meanwhile is not missed.
   * @param input - `{grant, signature}` in the JSON form of {@link parseSignedGrant}
   * @param from - who passed the terms on (the delivering node or the presenting practitioner), for the audit entry
   * @returns the grant id, and whether it is new here
   * @throws BaseError "forbidden" when no such commitment exists, "unauthenticated" for a signature not by the patient
   */
  async acceptTerms(input: unknown, from: Principal): Promise<AcceptedTerms> {
    const { message, signature } = parseSignedGrant(input);
    const grantId = grantIdOf(message);
    if (this.d.index.get(grantId)) return { grantId, status: "known" };
    const commitment = await this.#commitment(message.patient, grantId);
    if (commitment.grantedAt === 0) {
      throw new BaseError("forbidden", "the terms match no grant the patient recorded on the ledger", {
        expression: "grant",
      });
    }
    await this.#checkSigner(
      await safeRecover(() => recoverGrantSigner(this.domain, message, signature)),
      message.patient,
    );
    const grant = grantFromMessage(message, commitment.revokedAt || undefined);
    const fresh = await saveTerms(
      this.d.store.db,
      { grant, signature },
      { confirmedAt: commitment.grantedAt },
    );
    this.d.index.add(grant);
    if (fresh) {
      await this.d.auditor.record(from, {
        patient: getAddress(grant.patient),
        ...facts("consent-granted", grant),
      });
      this.d.events.emit("consent.granted", { grantId, patient: grant.patient, relayedHere: false });
    }
    if (commitment.revokedAt === 0) {
      const now = await this.#commitment(message.patient, grantId);
      if (now.revokedAt !== 0 && (await markRevoked(this.d.store.db, grantId, now.revokedAt)))
        this.d.index.revoke(grantId, now.revokedAt);
    }
    return { grantId, status: fresh ? "accepted" : "known" };
  }

  /**
   * The signed terms of confirmed grants held here, in the JSON form a receiver accepts.
   * @param grantIds - the grants
   */
  async signedTerms(grantIds: readonly Hex[]): Promise<SignedGrantJson[]> {
    return (await signedTermsOf(this.d.store.db, grantIds)).map(toJson);
  }

  /**
   * The signed terms of the patient's grants in force that name `principal` (as a practitioner,
   * through their organization, or their role there): what the principal's node presents to a
   * holder of the patient's data with a fetch.
   * @param principal - the requesting practitioner
   * @param patient - the patient's account
   */
  async termsNaming(principal: Principal, patient: Address): Promise<SignedGrantJson[]> {
    const now = Math.floor(Date.now() / 1000);
    const ids = this.sharedWith(principal)
      .filter((g) => isAddressEqual(g.patient as Address, patient) && g.notBefore <= now)
      .map((g) => g.grantId);
    return this.signedTerms(ids);
  }

  /**
   * Grants in force of `patient` that this node relayed: what it passes on to a holder of the
   * patient's data that it learns of later.
   * @param patient - the patient's account
   */
  async relayedTermsOf(patient: Address): Promise<SignedGrantJson[]> {
    return this.signedTerms(await relayedGrantsOf(this.d.store.db, patient));
  }

  /** Grants of one patient (the patient or a system job only). */
  listForPatient(principal: Principal, patient: Address): Grant[] {
    if (principal.kind !== "system" && !isAddressEqual(principal.account, patient)) {
      throw new BaseError("forbidden", "only the patient may list their consents");
    }
    return [...this.d.index.forPatient(patient)];
  }

  /** Grants that name the principal: as a practitioner, through their organization, or their role there. */
  sharedWith(principal: Principal): Grant[] {
    const out = [...this.d.index.forGrantee("practitioner", accountToBytes32(principal.account))];
    if (principal.organization) {
      out.push(...this.d.index.forGrantee("organization", principal.organization));
      if (principal.role)
        out.push(...this.d.index.forGrantee("role", principal.organization, roleToBytes32(principal.role)));
    }
    const now = Math.floor(Date.now() / 1000);
    return out.filter((g) => g.revokedAt === undefined && g.notAfter > now);
  }

  #key(patient: Address, id: string): string {
    return `consent:${patient.toLowerCase()}:${id}`;
  }

  async #checkSigner(signer: Address | undefined, patient: Address): Promise<void> {
    if (signer && isAddressEqual(signer, patient)) return;
    // A contract wallet (EIP-1271) cannot be checked by recovery: it must have code on chain.
    const code = await this.d.clients.publicClient.getCode({ address: patient });
    if (!code || code === "0x")
      throw new BaseError("unauthenticated", "the signature was not made by the patient's key");
  }

  async #checkNonce(patient: Address, nonce: bigint): Promise<void> {
    const expected = await this.nextNonce(patient);
    if (nonce !== expected) {
      throw new BaseError("conflict", `wrong consent nonce: expected ${expected}, got ${nonce}`, {
        code: "conflict",
      });
    }
  }

  async #commitment(patient: Address, grantId: Hex): Promise<Commitment> {
    const record = (await this.d.clients.publicClient.readContract({
      address: this.d.consentRegistry,
      abi: consentRegistryAbi,
      functionName: "getGrant",
      args: [patient, grantId],
    })) as { grantedAt: bigint; revokedAt: bigint };
    return { grantedAt: Number(record.grantedAt), revokedAt: Number(record.revokedAt) };
  }
}

/** What the audit entry of a grant or revocation says: its categories, never its grantee. */
function facts(action: "consent-granted" | "consent-revoked", grant: Grant) {
  return {
    action,
    categories: categoriesOf(grant.categories),
    decision: "permit" as const,
    reason: `grant ${grant.grantId} to ${GRANTEE_KINDS.includes(grant.granteeKind) ? grant.granteeKind : "grantee"}`,
  };
}

function toJson(terms: SignedTerms): SignedGrantJson {
  return signedGrantToJson(messageFromGrant(terms.grant), terms.signature);
}

function statusOf(status: string): Submitted["status"] {
  return status === "confirmed" ? "confirmed" : status === "failed" ? "failed" : "pending";
}

async function safeRecover(fn: () => Promise<Address>): Promise<Address | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}
