import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

/**
 * A blind search index: token values (codes, categories, statuses, and the Patient's name
 * prefixes, identifiers, gender and birth date) are stored as truncated HMAC-SHA256 under a node
 * secret, because a value tied to a patient id is PHI. Equality search still works; the database
 * alone reveals no diagnosis and no name (docs/search-index.md says what it does reveal).
 */
export class BlindIndex {
  readonly #cursorKey: Buffer;

  constructor(private readonly key: Uint8Array) {
    this.#cursorKey = createHmac("sha256", key).update("carechain search cursor v1").digest();
  }

  /** The stored form of one token value. */
  token(value: string): string {
    return createHmac("sha256", this.key).update(value, "utf8").digest("base64url").slice(0, 22);
  }

  /**
   * Every token under which a coding can be found: `system|code`, any-system `*|code`,
   * `system|*`, and `|code` for a coding without a system (FHIR token search forms).
   */
  codingTokens(system: string | undefined, code: string | undefined): string[] {
    const out: string[] = [];
    if (code !== undefined) {
      out.push(this.token(`*|${code}`));
      out.push(this.token(system === undefined ? `|${code}` : `${system}|${code}`));
    }
    if (system !== undefined) out.push(this.token(`${system}|*`));
    return out;
  }

  /**
   * Seals a search page cursor (AES-256-GCM under a key derived from the index key): the sort
   * key it holds (a name, a birth date) never shows in a URL, and a forged one does not open.
   */
  sealCursor(text: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#cursorKey, iv);
    const body = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  /** Opens a cursor sealed by {@link sealCursor}; undefined when it was not sealed here. */
  openCursor(sealed: string): string | undefined {
    const raw = Buffer.from(sealed, "base64url");
    if (raw.length < 29) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#cursorKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}
