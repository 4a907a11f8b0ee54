/**
 * Verifying health cards in the browser: the node's own verifier (src/passport: shcVerifier,
 * shcNumeric, shcContent, trustStore, ledgerCache, verifyCredentialTexts) over the browser's
 * primitives, against the ledger cache the node serves at `/passport/ledger-cache`, kept in this
 * browser (and by the verifier's service worker) so verification works offline; its age is shown.
 * EU DCCs (`HC1:`) are verified by the node's `POST /passport/verify`: their CBOR, COSE and X.509
 * libraries are Node's, so they need the node to be reachable.
 */
import { ledgerCacheSchema, trustLedgerCache, type LedgerCache } from "../../../src/passport/ledgerCache.js";
import type { PassportReport } from "../../../src/passport/passportReport.js";
import { TrustStore } from "../../../src/passport/trustStore.js";
import { isDccText, verifyCredentialTexts } from "../../../src/passport/verifyCredentialTexts.js";
import { browserCrypto } from "./browserCrypto";

export type { PassportReport };
export { isDccText };

const STORED = "carechain.passport.ledgerCache";
/** Set by the verifier's service worker on an answer it gives from its cache. */
const OFFLINE_HEADER = "x-carechain-offline";

export interface LoadedLedgerCache {
  cache: LedgerCache;
  /** True when the node answered now; false when this is the copy kept from before. */
  fresh: boolean;
}

function stored(): LedgerCache | undefined {
  try {
    const parsed = ledgerCacheSchema.safeParse(JSON.parse(localStorage.getItem(STORED) ?? "null"));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ledger cache: a fresh one from the node when it answers (kept for next time), else the one
 * kept from before; undefined when there is neither.
 */
export async function loadLedgerCache(): Promise<LoadedLedgerCache | undefined> {
  try {
    const response = await fetch("/passport/ledger-cache", { headers: { accept: "application/json" } });
    if (response.ok) {
      const parsed = ledgerCacheSchema.safeParse(await response.json());
      if (parsed.success) {
        const kept = stored();
        // an offline answer of the service worker is as old as it is: keep the newest reading
        if (kept === undefined || Date.parse(kept.readAt) <= Date.parse(parsed.data.readAt)) {
          localStorage.setItem(STORED, JSON.stringify(parsed.data));
        }
        // the service worker marks the copy it kept when the node did not answer
        return { cache: parsed.data, fresh: response.headers.get(OFFLINE_HEADER) === null };
      }
    }
  } catch {
    // offline, or the node is down: use the copy kept from before
  }
  const kept = stored();
  return kept === undefined ? undefined : { cache: kept, fresh: false };
}

/**
 * Verifies SMART Health Cards (`shc:/` chunks, a JWS, or a `.smart-health-card` file's text) here,
 * with the node's verifier code and the ledger cache's issuers.
 */
export function verifyHere(texts: readonly string[], cache: LedgerCache, now = new Date()): PassportReport[] {
  const trust = new TrustStore(browserCrypto);
  trustLedgerCache(cache, trust);
  return verifyCredentialTexts(texts, trust, now);
}

/** Verifies an EU DCC through the node (see the module's comment). */
export async function verifyDccAtNode(text: string): Promise<PassportReport[]> {
  let response: Response;
  try {
    response = await fetch("/passport/verify", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ credential: text }),
    });
  } catch {
    throw new Error("EU certificates are verified by the node, which cannot be reached now.");
  }
  if (!response.ok) throw new Error("The node did not verify this certificate.");
  return ((await response.json()) as { reports: PassportReport[] }).reports;
}
