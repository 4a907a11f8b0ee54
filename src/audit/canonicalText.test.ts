import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CATEGORIES, PURPOSES } from "../model/vocabulary.js";
import {
  AUDIT_ACTIONS,
  encodeAuditEntry,
  parseAuditEntry,
  openingText,
  storedEntry,
  type AuditEntry,
} from "./auditEntry.js";
import canonicalize from "canonicalize";
import { canonicalParts, canonicalText } from "./canonicalText.js";

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const address = hex(40).map((h) => `0x${h}`);
const opaque = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/);

const entry: fc.Arbitrary<AuditEntry> = fc
  .record(
    {
      time: fc
        .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
        .map((d) => d.toISOString()),
      requestId: opaque,
      actor: fc.record(
        { account: address, organization: opaque, role: opaque },
        { requiredKeys: ["account"] },
      ),
      patient: fc.oneof(address, opaque),
      action: fc.constantFrom(...AUDIT_ACTIONS),
      resources: fc.array(
        fc
          .tuple(fc.constantFrom("Observation", "Patient"), fc.stringMatching(/^[A-Za-z0-9.-]{1,20}$/))
          .map(([t, i]) => `${t}/${i}`),
        { maxLength: 4 },
      ),
      categories: fc.uniqueArray(fc.constantFrom(...CATEGORIES), { maxLength: 4 }),
      purpose: fc.constantFrom(...PURPOSES),
      decision: fc.constantFrom("permit" as const, "deny" as const),
      // free text, including quotes, escapes, controls and non-ASCII
      reason: fc.oneof(
        fc.string({ minLength: 1, maxLength: 60, unit: "binary" }),
        fc.constantFrom("intent", "committed", "not committed: completes intent 4", "committed: x"),
      ),
      node: address,
    },
    { requiredKeys: ["time", "requestId", "actor", "action", "decision"] },
  )
  .map((e) => ({ v: 1 as const, ...e }))
  .filter((e) => {
    try {
      parseAuditEntry(e);
      return true;
    } catch {
      return false;
    }
  });

describe("canonicalText", () => {
  it("equals the general RFC 8785 encoding for every valid entry", () => {
    fc.assert(
      fc.property(entry, (e) => {
        expect(canonicalText(e)).toBe(encodeAuditEntry(e));
      }),
      { numRuns: 2000 },
    );
  });

  it("equals the general encoding of the version 2 stored entry, with or without prev and commitment", () => {
    fc.assert(
      fc.property(
        entry,
        fc.option(fc.nat(), { nil: undefined }),
        fc.option(hex(64), { nil: null }),
        (e, prev, commitment) => {
          const text = encodeAuditEntry(storedEntry(e, prev, commitment));
          expect(canonicalText(e, prev, commitment)).toBe(text);
          // As a batch takes them: pieces pushed after what is already there, and the text's length.
          const out = ["\0"];
          expect(canonicalParts(out, e, prev, commitment)).toBe(text.length);
          expect(out.join("")).toBe(`\0${text}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("writes the committed facts as the general RFC 8785 encoding", () => {
    fc.assert(
      fc.property(entry, (e) => {
        const facts = {
          ...(e.categories === undefined ? {} : { categories: e.categories }),
          ...(e.reason === undefined ? {} : { reason: e.reason }),
        };
        expect(openingText(facts)).toBe(canonicalize(facts));
      }),
      { numRuns: 2000 },
    );
  });
});
