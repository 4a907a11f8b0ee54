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
import { markRevoked, saveGrant } from "./grantStore.js";
import { GRANTEE_KINDS, categoriesOf } from "../model/vocabulary.js";
import { type Grant } from "../model/consentTypes.js";
import {
  accountToBytes32,
  consentDomain,
  grantFromMessage,
  grantIdOf,
  parseSignedGrant,
  parseSignedRevoke,
  recoverGrantSigner,
  recoverRevokeSigner,
  roleToBytes32,
  type ConsentDomain,
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

export interface Submitted {
  grantId: Hex;
  status: "pending" | "confirmed" | "failed";
  outboxId: number;
}

/**
 * Patient-signed consent, end to end: checks a signed Grant/Revoke at the edge (signature, nonce,
 * replay) so the patient hears about a mistake at once, relays it through the outbox, and applies
 * the ledger's ConsentGranted/ConsentRevoked events to the index every decision reads.
 */
export class ConsentService {
  readonly domain: ConsentDomain;

  constructor(private readonly d: ConsentServiceDeps) {
    this.domain = consentDomain(d.clients.chainId, d.consentRegistry);
  }

  /** The nonce the patient's next signed message must carry (ledger nonce + messages still in the outbox). */
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
      .where("idem_key", "like", `consent:${patient.toLowerCase()}:%`)
      .executeTakeFirstOrThrow();
    return onChain + BigInt(Number(pending.n));
  }

  /** Accepts a patient-signed Grant for relaying; 4xx for a forged, replayed or out-of-order one. */
  async submitGrant(input: unknown): Promise<Submitted> {
    const { message, signature } = parseSignedGrant(input);
    const grantId = grantIdOf(message);
    if (this.d.index.get(grantId))
      throw new BaseError("conflict", "this grant is already on the ledger (replay)");
    const existing = await this.d.outbox.byKey(this.#key(message.patient, grantId));
    if (existing) return { grantId, status: statusOf(existing.status), outboxId: existing.id };
    await this.#checkSigner(
      await safeRecover(() => recoverGrantSigner(this.domain, message, signature)),
      message.patient,
    );
    if (message.notAfter <= BigInt(Math.floor(Date.now() / 1000)))
      throw new BaseError("invalid", "the grant's validity window has already ended", {
        expression: "grant.notAfter",
      });
    await this.#checkNonce(message.patient, message.nonce);
    const { id } = await this.d.outbox.intend({
      key: this.#key(message.patient, grantId),
      contract: "ConsentRegistry",
      functionName: "grant",
      args: [message, signature],
    });
    return { grantId, status: "pending", outboxId: id };
  }

  /** Accepts a patient-signed Revoke for relaying. */
  async submitRevoke(input: unknown): Promise<Submitted> {
    const { message, signature } = parseSignedRevoke(input);
    const grant = this.d.index.get(message.grantId);
    if (!grant || !isAddressEqual(grant.patient as Address, message.patient))
      throw new BaseError("not-found", "no such grant of this patient");
    if (grant.revokedAt !== undefined) throw new BaseError("conflict", "this grant is already revoked");
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

  /** Waits until the ledger events of `block` are applied, so a following read sees the change. */
  async awaitApplied(block: number): Promise<void> {
    await this.d.waitForBlock(BigInt(block), 10_000);
  }

  /** Indexer handler: applies ConsentGranted/ConsentRevoked to the database mirror and the index. */
  readonly onLog = async (log: IndexedLog): Promise<void> => {
    if (log.contract !== "ConsentRegistry") return;
    const args = log.args as Record<string, unknown>;
    if (log.eventName === "ConsentGranted") {
      const grant: Grant = grantFromMessage({
        patient: args.patient as Address,
        granteeKind: Number(args.granteeKind),
        grantee: args.grantee as Hex,
        role: args.role as Hex,
        categories: Number(args.categories),
        purposes: Number(args.purposes),
        actions: Number(args.actions),
        notBefore: args.notBefore as bigint,
        notAfter: args.notAfter as bigint,
        nonce: args.nonce as bigint,
      });
      const fresh = await saveGrant(this.d.store.db, grant, log.blockNumber);
      this.d.index.add(grant);
      if (fresh) {
        await this.#auditConsent("consent-granted", grant, log);
        this.d.events.emit("consent.granted", { grantId: grant.grantId, patient: grant.patient });
      }
    } else if (log.eventName === "ConsentRevoked") {
      const grantId = args.grantId as Hex;
      const at = Number(args.revokedAt);
      const changed = await markRevoked(this.d.store.db, grantId, at);
      this.d.index.revoke(grantId, at);
      const grant = this.d.index.get(grantId);
      if (changed && grant) {
        await this.#auditConsent("consent-revoked", grant, log);
        this.d.events.emit("consent.revoked", { grantId, patient: grant.patient });
      }
    }
  };

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

  async #auditConsent(
    action: "consent-granted" | "consent-revoked",
    grant: Grant,
    log: IndexedLog,
  ): Promise<void> {
    await this.d.auditor.recordSigned(getAddress(grant.patient), log.transactionHash, {
      action,
      categories: categoriesOf(grant.categories),
      decision: "permit",
      reason: `grant ${grant.grantId} to ${GRANTEE_KINDS.includes(grant.granteeKind) ? grant.granteeKind : "grantee"}`,
    });
  }
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
