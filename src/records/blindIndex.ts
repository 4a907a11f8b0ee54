import { createHmac } from "node:crypto";

/**
 * A blind search index: token values (codes, categories, statuses) are stored as truncated
 * HMAC-SHA256 under a node secret, because a code tied to a patient id is PHI. Equality search
 * still works; the database alone reveals no diagnosis.
 */
export class BlindIndex {
  constructor(private readonly key: Uint8Array) {}

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
}
