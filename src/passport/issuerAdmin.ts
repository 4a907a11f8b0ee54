/**
 * The operator's side of issuing: registering this organization's issuer URL and signing key on
 * the CredentialRegistry, rotating and revoking keys. Every ledger write is an outbox intent the
 * node's relayer submits; the key's private half never leaves the key provider's wrapping.
 */
import type { Hex } from "viem";
import type { Outbox } from "../chain/outbox.js";
import { notFound } from "../errors/BaseError.js";
import type { IssuerKeys } from "./issuerKeys.js";
import { bytes32Of } from "./ledgerReader.js";

export class IssuerAdmin {
  readonly #keys: IssuerKeys;
  readonly #outbox: Outbox;
  readonly #issuerUrl: string;

  constructor(keys: IssuerKeys, outbox: Outbox, issuerUrl: string) {
    this.#keys = keys;
    this.#outbox = outbox;
    this.#issuerUrl = issuerUrl;
  }

  /** Registers the issuer URL and the active key (made now when there is none). */
  async register(): Promise<{ iss: string; kid: string; outboxIds: number[] }> {
    const existing = (await this.#keys.list()).find((key) => key.status === "active");
    const jwk = existing?.jwk ?? (await this.#keys.create());
    const registered = await this.#outbox.intend({
      key: `passport:issuer:${this.#issuerUrl}`,
      contract: "CredentialRegistry",
      functionName: "registerIssuer",
      args: [this.#issuerUrl],
    });
    const added = await this.#outbox.intend({
      key: `passport:key:${jwk.kid}`,
      contract: "CredentialRegistry",
      functionName: "addKey",
      args: [bytes32Of(jwk.kid), bytes32Of(jwk.x), bytes32Of(jwk.y)],
    });
    return { iss: this.#issuerUrl, kid: jwk.kid, outboxIds: [registered.id, added.id] };
  }

  /** A new key signs from now on; the old one is retired on the ledger (its cards stay valid). */
  async rotate(): Promise<{ kid: string; retired: string; outboxId: number }> {
    const old = await this.#keys.active();
    const jwk = await this.#keys.create();
    const intent = await this.#outbox.intend({
      key: `passport:rotate:${old.jwk.kid}`,
      contract: "CredentialRegistry",
      functionName: "rotateKey",
      args: [bytes32Of(old.jwk.kid), bytes32Of(jwk.kid), bytes32Of(jwk.x), bytes32Of(jwk.y)],
    });
    await this.#keys.setStatus(old.jwk.kid, "retired");
    return { kid: jwk.kid, retired: old.jwk.kid, outboxId: intent.id };
  }

  /** Revokes a key of this node (compromise): no card it signed verifies any more. */
  async revokeKey(kid: string): Promise<{ kid: string; outboxId: number }> {
    if (!(await this.#keys.list()).some((key) => key.jwk.kid === kid))
      throw notFound("no such issuer key on this node");
    const intent = await this.#outbox.intend({
      key: `passport:revoke-key:${kid}`,
      contract: "CredentialRegistry",
      functionName: "revokeKey",
      args: [bytes32Of(kid)],
    });
    await this.#keys.setStatus(kid, "revoked");
    return { kid, outboxId: intent.id };
  }

  /**
   * Consortium governor (the node that deployed): lets an organization of another kind (a lab, a
   * clinic) issue health cards, or stops it.
   */
  async approve(organization: Hex, approved: boolean): Promise<{ outboxId: number }> {
    const intent = await this.#outbox.intend({
      key: `passport:approve:${organization.toLowerCase()}:${approved}:${Date.now()}`,
      contract: "CredentialRegistry",
      functionName: "setIssuerApproval",
      args: [organization.toLowerCase(), approved],
    });
    return { outboxId: intent.id };
  }
}
