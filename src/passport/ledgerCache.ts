/**
 * The ledger cache: the issuers, keys and revocation lists of the on-chain CredentialRegistry,
 * read once and written to a file so a verifier can check cards offline. The report shows its age.
 */
import { z } from "zod";
import { issuerJwkSchema } from "./issuerJwk.js";
import { parseRids, type TrustStore } from "./trustStore.js";

export const LEDGER_CACHE_FORMAT = "carechain-passport-ledger-cache/1";

const cachedKeySchema = z.object({
  jwk: issuerJwkSchema,
  status: z.enum(["active", "retired", "revoked"]),
  /** Seconds since the epoch. */
  revokedAt: z.number().nullable(),
  crl: z.object({ ctr: z.number().int().nonnegative(), rids: z.array(z.string()) }),
});

export const ledgerCacheSchema = z.object({
  format: z.literal(LEDGER_CACHE_FORMAT),
  chainId: z.number().int(),
  registry: z.string(),
  readAt: z.iso.datetime(),
  issuers: z.array(
    z.object({
      iss: z.string().url(),
      name: z.string(),
      active: z.boolean(),
      keys: z.array(cachedKeySchema),
    }),
  ),
});
export type LedgerCache = z.infer<typeof ledgerCacheSchema>;
export type LedgerCacheKey = z.infer<typeof cachedKeySchema>;

/**
 * Adds every key and CRL of a ledger cache to a trust store. Keys of a deactivated issuer are
 * left out: the registry no longer vouches for them.
 * @param cache - validated cache
 * @param trust - store to fill
 */
export function trustLedgerCache(cache: LedgerCache, trust: TrustStore): void {
  for (const issuer of cache.issuers) {
    if (!issuer.active) continue;
    for (const key of issuer.keys) {
      trust.addShcKey({
        jwk: key.jwk,
        issuer: issuer.iss,
        issuerName: issuer.name,
        source: "ledger",
        revokedAt: key.status === "revoked" ? (key.revokedAt ?? 0) : null,
      });
      trust.addCrl({ kid: key.jwk.kid, ctr: key.crl.ctr, rids: parseRids(key.crl.rids), source: "ledger" });
    }
  }
  trust.ledgerReadAt = new Date(cache.readAt);
}
