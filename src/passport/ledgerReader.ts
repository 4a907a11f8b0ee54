/**
 * Reads the CredentialRegistry into a ledger cache: every issuer that registered, whether it may
 * still issue, its keys as JWKs with their status, and each key's revocation list. The node serves
 * `/.well-known/jwks.json` and `/.well-known/crl/{kid}.json` from the same reading.
 */
import { getAddress, type Address, type Hex } from "viem";
import { credentialRegistryAbi } from "../chain/artifacts/CredentialRegistry.js";
import { participantRegistryAbi } from "../chain/artifacts/ParticipantRegistry.js";
import type { ChainReadClients } from "../chain/clients.js";
import { LEDGER_CACHE_FORMAT, type LedgerCache, type LedgerCacheKey } from "./ledgerCache.js";

const STATUS = ["none", "active", "retired", "revoked"] as const;

/** A bytes32 from the contract as base64url (the JWK form of kids and coordinates). */
export const b64url = (hex: Hex): string => Buffer.from(hex.slice(2), "hex").toString("base64url");

/** A base64url kid or coordinate as the contract's bytes32. */
export const bytes32Of = (b64: string): Hex =>
  `0x${Buffer.from(b64, "base64url").toString("hex").padStart(64, "0")}`;

/**
 * Reads the whole registry.
 * @param clients - read access to the ledger
 * @param registry - the CredentialRegistry's address
 * @param readAt - the time the reading is stamped with
 */
export async function readLedgerCache(
  clients: ChainReadClients,
  registry: Address,
  readAt = new Date(),
): Promise<LedgerCache> {
  const read = clients.publicClient;
  const [ids, participants] = await Promise.all([
    read.readContract({ address: registry, abi: credentialRegistryAbi, functionName: "issuerIds" }),
    read.readContract({ address: registry, abi: credentialRegistryAbi, functionName: "registry" }),
  ]);
  const issuers = await Promise.all(
    ids.map(async (organization) => {
      const [issuer, active, org] = await Promise.all([
        read.readContract({
          address: registry,
          abi: credentialRegistryAbi,
          functionName: "issuer",
          args: [organization],
        }),
        read.readContract({
          address: registry,
          abi: credentialRegistryAbi,
          functionName: "mayIssue",
          args: [organization],
        }),
        read.readContract({
          address: participants,
          abi: participantRegistryAbi,
          functionName: "organization",
          args: [organization],
        }),
      ]);
      const keys = await Promise.all(issuer.kids.map((kid) => readKey(clients, registry, kid)));
      return { iss: issuer.url, name: org.name, active, keys };
    }),
  );
  return {
    format: LEDGER_CACHE_FORMAT,
    chainId: clients.chainId,
    registry: getAddress(registry),
    readAt: readAt.toISOString(),
    issuers,
  };
}

async function readKey(clients: ChainReadClients, registry: Address, kid: Hex): Promise<LedgerCacheKey> {
  const read = clients.publicClient;
  const [key, revoked] = await Promise.all([
    read.readContract({
      address: registry,
      abi: credentialRegistryAbi,
      functionName: "issuerKey",
      args: [kid],
    }),
    read.readContract({
      address: registry,
      abi: credentialRegistryAbi,
      functionName: "revokedCards",
      args: [kid],
    }),
  ]);
  const status = STATUS[key.status] ?? "none";
  return {
    jwk: {
      kty: "EC",
      crv: "P-256",
      x: b64url(key.x),
      y: b64url(key.y),
      kid: b64url(kid),
      use: "sig",
      alg: "ES256",
    },
    status: status === "none" ? "revoked" : status,
    revokedAt: key.revokedAt === 0n ? null : Number(key.revokedAt),
    crl: {
      ctr: key.crlVersion,
      rids: revoked.map((card) =>
        card.revokedBefore === 0n ? card.rid : `${card.rid}.${card.revokedBefore}`,
      ),
    },
  };
}
