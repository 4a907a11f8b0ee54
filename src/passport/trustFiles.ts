/**
 * Trust a verifier gives on the command line or in a request: JWKS files (SMART Health Card
 * issuer keys), CRL files (`.well-known/crl/<kid>.json`), ledger cache files, and EU DCC document
 * signer certificates (PEM/DER, or a JWKS whose keys carry `x5c`), each a file or a folder of them.
 */
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { invalid } from "../errors/BaseError.js";
import { issuerJwkSchema, jwkThumbprint } from "./jwk.js";
import { ledgerCacheSchema, trustLedgerCache } from "./ledgerCache.js";
import { nodeCrypto } from "./nodeCrypto.js";
import { parseRids, TrustStore } from "./trustStore.js";

const crlSchema = z.object({
  kid: z.string(),
  method: z.literal("rid"),
  ctr: z.number().int().nonnegative(),
  rids: z.array(z.string()),
});

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

/**
 * Reads trust files and folders into a trust store.
 * @param paths - files or folders (searched recursively, dot-folders such as `.well-known` included)
 * @param trust - store to fill (a new one by default)
 * @returns the store
 */
export function readTrustFiles(paths: readonly string[], trust = new TrustStore(nodeCrypto)): TrustStore {
  for (const path of paths) {
    for (const file of listFiles(path)) addTrustFile(file, readFileSync(file), trust);
  }
  return trust;
}

function listFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (cause) {
    throw invalid("trust: file or folder not found", { cause, expression: "trust" });
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => listFiles(join(path, name)));
}

/**
 * Adds one trust file's content to a store; files of no known kind are ignored.
 * @param source - name shown in reports as where the trust came from
 */
export function addTrustFile(source: string, bytes: Uint8Array, trust: TrustStore): void {
  const text = Buffer.from(bytes).toString("utf8");
  if (text.includes("-----BEGIN CERTIFICATE-----")) {
    for (const pem of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
      trust.addDsc(new X509Certificate(pem), source);
    }
    return;
  }
  if (/\.(der|crt|cer)$/i.test(source)) {
    trust.addDsc(new X509Certificate(Buffer.from(bytes)), source);
    return;
  }
  if (!/\.json$/i.test(source) && !text.trimStart().startsWith("{")) return;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw invalid("trust: a JSON trust file does not parse", { cause, expression: "trust" });
  }
  const cache = ledgerCacheSchema.safeParse(json);
  if (cache.success) return trustLedgerCache(cache.data, trust);
  const crl = crlSchema.safeParse(json);
  if (crl.success) {
    trust.addCrl({ kid: crl.data.kid, ctr: crl.data.ctr, rids: parseRids(crl.data.rids), source });
    return;
  }
  const jwks = jwksSchema.safeParse(json);
  if (jwks.success) return addJwks(source, jwks.data.keys, trust);
  throw invalid("trust: JSON file is neither a JWKS, a CRL nor a ledger cache", { expression: "trust" });
}

function addJwks(source: string, keys: readonly Record<string, unknown>[], trust: TrustStore): void {
  for (const key of keys) {
    const jwk = issuerJwkSchema.safeParse(key);
    if (jwk.success && jwkThumbprint(jwk.data) === jwk.data.kid) {
      trust.addShcKey({ jwk: jwk.data, issuer: null, issuerName: null, source, revokedAt: null });
      continue;
    }
    // A key whose kid is not its thumbprint is a DCC signer published as JWK: trust its certificate.
    const x5c = key["x5c"];
    if (Array.isArray(x5c) && typeof x5c[0] === "string") {
      trust.addDsc(new X509Certificate(Buffer.from(x5c[0], "base64")), source);
    }
  }
}
