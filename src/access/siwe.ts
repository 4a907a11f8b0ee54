/**
 * Sign-In with Ethereum (EIP-4361): the node issues a challenge message with a single-use nonce,
 * the wallet signs it, the node checks it. Pending challenges wait in a {@link ChallengeStore}:
 * the node's database when it runs, so any API process sharing it can take the answer, and
 * memory otherwise. https://eips.ethereum.org/EIPS/eip-4361
 */
import { randomBytes } from "node:crypto";
import { getAddress, isAddress, isAddressEqual, isHex, verifyMessage, type Address, type Hex } from "viem";
import {
  createSiweMessage,
  parseSiweMessage,
  validateSiweMessage,
  type VerifySiweMessageParameters,
} from "viem/siwe";
import { BaseError, findCause } from "../errors/BaseError.js";
import { MemoryChallengeStore, type ChallengeStore } from "./challengeStore.js";

/**
 * What verifies a SIWE signature on chain: a viem PublicClient (EIP-1271 / ERC-6492 wallets).
 * viem accepts a valid EOA signature even when the ledger is unreachable, and reports most
 * ledger failures as "not valid", so an outage fails closed for contract wallets.
 */
export interface SiweVerifier {
  verifySiweMessage(parameters: VerifySiweMessageParameters): Promise<boolean>;
}

export interface SiweChallengesOptions {
  /** RFC 3986 authority the user signs in to, e.g. `clinic.example:8443`. */
  domain: string;
  /** RFC 3986 URI of the sign-in resource, e.g. `https://clinic.example:8443/auth`. */
  uri: string;
  chainId: number;
  /** How long a challenge may be answered (default 5 minutes). */
  ttlMs?: number;
  /**
   * Most pending challenges kept in memory; the oldest is dropped beyond it (default 10 000).
   * Ignored with `store`, which has its own bound.
   */
  maxPending?: number;
  /** Where pending challenges wait (default: in this process's memory). */
  store?: ChallengeStore;
  /** Human-readable line the wallet shows. */
  statement?: string;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export interface SiweChallenge {
  /** The EIP-4361 message for the wallet to sign (personal_sign). */
  message: string;
  nonce: string;
  expiresAt: Date;
}

export interface SiweVerifyInput {
  message: string;
  signature: Hex;
  /** When given, the signature is checked on chain, so smart-contract wallets can sign in. */
  publicClient?: SiweVerifier | undefined;
}

/** Longest SIWE message accepted; real ones are a few hundred bytes. */
const MAX_MESSAGE_LENGTH = 4096;

const fail = (message: string, options?: { cause?: unknown }): BaseError =>
  new BaseError("unauthenticated", message, options);

/** Issues and verifies SIWE challenges for one node (domain, URI and chain fixed at construction). */
export class SiweChallenges {
  readonly domain: string;
  readonly uri: string;
  readonly chainId: number;
  readonly ttlMs: number;
  private readonly statement: string;
  private readonly now: () => number;
  private readonly pending: ChallengeStore;

  constructor(options: SiweChallengesOptions) {
    this.domain = options.domain;
    this.uri = options.uri;
    this.chainId = options.chainId;
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    const maxPending = options.maxPending ?? 10_000;
    this.statement = options.statement ?? "Sign in to carechain.";
    this.now = options.now ?? Date.now;
    if (!(this.ttlMs > 0) || !(maxPending > 0)) {
      throw new BaseError("config", "SIWE ttlMs and maxPending must be positive");
    }
    this.pending = options.store ?? new MemoryChallengeStore(maxPending);
  }

  /** Number of challenges waiting for an answer (expired ones included until dropped). */
  size(): Promise<number> {
    return this.pending.count();
  }

  /**
   * Creates a challenge for `address`: a fresh 128-bit nonce (not viem's `generateSiweNonce`,
   * which uses `Math.random`) and an EIP-4361 message that expires with it.
   * @param address - The account that will sign.
   * @returns The message to sign, its nonce and expiry.
   */
  async issue(address: string): Promise<SiweChallenge> {
    if (!isAddress(address, { strict: false }))
      throw new BaseError("invalid", "SIWE address is not an address");
    const account = getAddress(address);
    const now = this.now();
    const nonce = randomBytes(16).toString("hex");
    const expiresAt = now + this.ttlMs;
    const message = createSiweMessage({
      address: account,
      chainId: this.chainId,
      domain: this.domain,
      uri: this.uri,
      version: "1",
      nonce,
      statement: this.statement,
      issuedAt: new Date(now),
      expirationTime: new Date(expiresAt),
    });
    await this.pending.put(nonce, { address: account, expiresAt }, now);
    return { message, nonce, expiresAt: new Date(expiresAt) };
  }

  /**
   * Checks a signed challenge: domain, URI, chain id, a nonce this node issued and that was not
   * used yet, the expiry, and the signature. The nonce is spent by the first attempt, whatever its
   * outcome, so a message can never be verified twice.
   * @param input - The signed message, its signature, and optionally a client for contract wallets.
   * @returns The checksummed account that signed in.
   */
  async verify(input: SiweVerifyInput): Promise<{ address: Address }> {
    const { message, signature, publicClient } = input;
    if (typeof message !== "string" || message.length > MAX_MESSAGE_LENGTH)
      throw fail("SIWE message malformed");
    const fields = parseSiweMessage(message);
    if (
      fields.address === undefined ||
      fields.nonce === undefined ||
      fields.domain === undefined ||
      fields.uri === undefined ||
      fields.chainId === undefined ||
      fields.version !== "1"
    ) {
      throw fail("SIWE message malformed");
    }
    // Spend the nonce first (one atomic take), so concurrent verifications of one message, in this
    // process or another, cannot both pass.
    const pending = await this.pending.take(fields.nonce);
    if (fields.domain !== this.domain) throw fail("SIWE domain mismatch");
    if (fields.uri !== this.uri) throw fail("SIWE uri mismatch");
    if (fields.chainId !== this.chainId) throw fail("SIWE chain id mismatch");
    if (pending === undefined) throw fail("SIWE nonce unknown or already used");
    const now = this.now();
    if (now >= pending.expiresAt) throw fail("SIWE message expired");
    if (!isAddressEqual(fields.address, pending.address))
      throw fail("SIWE address does not match the challenge");
    const time = new Date(now);
    if (!validateSiweMessage({ message: fields, domain: this.domain, nonce: fields.nonce, time })) {
      // The message's own expirationTime / notBefore may be narrower than the challenge's.
      throw fail("SIWE message expired or not yet valid");
    }
    if (typeof signature !== "string" || !isHex(signature)) throw fail("SIWE signature malformed");

    let valid: boolean;
    if (publicClient) {
      try {
        valid = await publicClient.verifySiweMessage({
          message,
          signature,
          address: pending.address,
          domain: this.domain,
          nonce: fields.nonce,
          time,
        });
      } catch (cause) {
        if (isTransportError(cause)) {
          throw new BaseError("unavailable", "cannot verify the SIWE signature: ledger unreachable", {
            cause,
          });
        }
        throw fail("SIWE signature malformed", { cause });
      }
    } else {
      try {
        valid = await verifyMessage({ address: pending.address, message, signature });
      } catch (cause) {
        throw fail("SIWE signature malformed", { cause });
      }
    }
    if (!valid) throw fail("SIWE signature does not match the address");
    return { address: pending.address };
  }
}

const TRANSPORT_ERRORS = new Set([
  "HttpRequestError",
  "WebSocketRequestError",
  "TimeoutError",
  "SocketClosedError",
]);

/** True when the ledger could not be asked, as opposed to the signature being unusable. */
function isTransportError(error: unknown): boolean {
  return findCause(error, (e) => e instanceof Error && TRANSPORT_ERRORS.has(e.name)) !== undefined;
}
