/**
 * Builds a verifier's trust from what it was given: trust files and folders and an optional
 * ledger cache file (the issuers registered on chain, read earlier for offline use).
 */
import { readFileSync } from "node:fs";
import { invalid } from "../errors/BaseError.js";
import { ledgerCacheSchema, trustLedgerCache } from "./ledgerCache.js";
import { readTrustFiles } from "./trustFiles.js";
import { nodeCrypto } from "./nodeCrypto.js";
import { TrustStore } from "./trustStore.js";

/**
 * @param trustPaths - JWKS, CRL, certificate or ledger cache files, or folders of them
 * @param ledgerCachePath - a ledger cache file written by `carechain passport issuer cache` or the node
 */
export function verifierTrust(trustPaths: readonly string[], ledgerCachePath?: string): TrustStore {
  const trust = new TrustStore(nodeCrypto);
  if (ledgerCachePath !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(ledgerCachePath, "utf8"));
    } catch (cause) {
      throw invalid("ledger cache: file cannot be read as JSON", { cause, expression: "ledger-cache" });
    }
    const cache = ledgerCacheSchema.safeParse(json);
    if (!cache.success)
      throw invalid("ledger cache: not a carechain ledger cache", { expression: "ledger-cache" });
    trustLedgerCache(cache.data, trust);
  }
  return readTrustFiles(trustPaths, trust);
}
