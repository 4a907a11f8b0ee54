import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import {
  commitmentOf,
  isProcessMarker,
  openingText,
  opens,
  storedEntry,
  auditEntrySchema,
  certainlyValidEntry,
  decodeAuditEntry,
  encodeAuditEntry,
  entryLeafHash,
  parseAuditEntry,
  patientKey,
  type AuditEntry,
} from "./auditEntry.js";
import { leafHash } from "./merkleHash.js";

const account = "0x00000000000000000000000000000000000000A1";
const base: AuditEntry = {
  v: 1,
  time: "2025-01-02T03:04:05.678Z",
  requestId: "req-1",
  actor: { account, organization: "org-1", role: "physician" },
  patient: "0x00000000000000000000000000000000000000bB",
  action: "read",
  resources: ["Observation/123", "MedicationRequest/a-1/_history/2"],
  categories: ["labs", "medications"],
  purpose: "TREAT",
  decision: "permit",
};

describe("auditEntry", () => {
  it("encodes an entry as RFC 8785 canonical JSON (sorted keys, no spaces)", () => {
    const text = encodeAuditEntry(
      parseAuditEntry({
        decision: "deny",
        action: "deny",
        v: 1,
        requestId: "r",
        time: base.time,
        actor: { account },
      }),
    );
    expect(text).toBe(
      `{"action":"deny","actor":{"account":"${account}"},"decision":"deny","requestId":"r","time":"2025-01-02T03:04:05.678Z","v":1}`,
    );
    expect(decodeAuditEntry(text)).toEqual(JSON.parse(text));
  });

  it("gives the same text and leaf whatever the key order", () => {
    const shuffled = Object.fromEntries(Object.entries(base).reverse()) as AuditEntry;
    expect(encodeAuditEntry(shuffled)).toBe(encodeAuditEntry(base));
    expect(entryLeafHash(encodeAuditEntry(base))).toEqual(
      leafHash(new TextEncoder().encode(encodeAuditEntry(base))),
    );
  });

  it("rejects unknown keys, bad values and free text identifiers", () => {
    const bad: unknown[] = [
      { ...base, name: "x" },
      { ...base, v: 2 },
      { ...base, action: "peek" },
      { ...base, decision: "maybe" },
      { ...base, time: "yesterday" },
      { ...base, patient: "Jane Doe" },
      { ...base, actor: { account: "bob" } },
      { ...base, actor: { account, extra: 1 } },
      { ...base, resources: ["not a reference"] },
      { ...base, categories: ["everything"] },
      { ...base, purpose: "FUN" },
      { ...base, requestId: "" },
    ];
    for (const input of bad) expect(() => parseAuditEntry(input), JSON.stringify(input)).toThrow(BaseError);
    expect(() =>
      parseAuditEntry({ ...base, patient: "Jane Doe", action: "peek" }),
    ).toThrowErrorMatchingInlineSnapshot(`[CarechainError: invalid audit entry]`);
    try {
      parseAuditEntry({ ...base, patient: "Jane Doe" });
    } catch (e) {
      expect((e as BaseError).details).toBe("invalid fields: patient");
      expect((e as BaseError).details).not.toContain("Jane");
    }
  });

  it("accepts every listed action and a pseudonymous patient id", () => {
    expect(parseAuditEntry({ ...base, action: "break-glass", patient: "pid:7f3a9c" }).patient).toBe(
      "pid:7f3a9c",
    );
    expect(parseAuditEntry({ ...base, action: "consent-revoked" }).action).toBe("consent-revoked");
  });

  it("lowercases addresses for the patient index only", () => {
    expect(patientKey("0xAbC0000000000000000000000000000000000001")).toBe(
      "0xabc0000000000000000000000000000000000001",
    );
    expect(patientKey("pid:AB")).toBe("pid:AB");
  });
});

describe("certainlyValidEntry", () => {
  const field = fc.constantFrom(
    "v",
    "time",
    "requestId",
    "actor",
    "patient",
    "action",
    "resources",
    "categories",
    "purpose",
    "decision",
    "reason",
    "node",
    "extra",
  );
  const oddValue = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.integer(),
    fc.string({ maxLength: 8 }),
    fc.constant(""),
    fc.constant("x".repeat(501)),
    fc.constant("Jane Doe"),
    fc.constant("2025-13-02T03:04:05.678Z"),
    fc.constant("2025-01-02T03:04:05Z"),
    fc.constant(["Observation/1", "not a ref"]),
    fc.constant(Array<string>(16).fill("labs")),
    fc.constant({ account }),
    fc.constant({ account, extra: 1 }),
    fc.constant({ account: "0x12" }),
    fc.constant(account),
    fc.constant("TREAT"),
    fc.constant("read"),
  );

  it("passes the entries the layers build", () => {
    expect(certainlyValidEntry(base)).toBe(true);
    expect(
      certainlyValidEntry({ ...base, reason: "no grant", node: account, time: new Date().toISOString() }),
    ).toBe(true);
  });

  it("passes nothing the schema refuses (random edits of a valid entry)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(field, oddValue), { maxLength: 3 }), (edits) => {
        const entry: Record<string, unknown> = structuredClone(base);
        for (const [key, value] of edits) entry[key] = value;
        if (certainlyValidEntry(entry)) expect(auditEntrySchema.safeParse(entry).success).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // and it is not vacuous: some edits keep the entry certainly valid, some do not
    expect(certainlyValidEntry({ ...base, purpose: "ETREAT" })).toBe(true);
    expect(certainlyValidEntry({ ...base, purpose: "nope" })).toBe(false);
    expect(certainlyValidEntry({ ...base, extra: 1 })).toBe(false);
    expect(certainlyValidEntry({ ...base, actor: { account, name: "Jane" } })).toBe(false);
  });

  it("version 2: a patient's categories and non-marker reason leave the text; only their opening opens the commitment", () => {
    const e: AuditEntry = { ...base, reason: "sensitive-not-granted" };
    const salt = "0123456789abcdef0123456789abcdef";
    const commitment = commitmentOf(salt, openingText({ categories: e.categories, reason: e.reason }));
    const stored = decodeAuditEntry(encodeAuditEntry(storedEntry(e, 4, commitment)));
    expect(stored).toMatchObject({ v: 2, prev: 4, commitment });
    expect(stored.categories).toBeUndefined();
    expect(stored.reason).toBeUndefined();
    expect(
      opens(stored, { salt, categories: ["labs", "medications"], reason: "sensitive-not-granted" }),
    ).toBe(true);
    for (const wrong of [
      { salt, categories: ["labs"], reason: "sensitive-not-granted" },
      { salt, categories: ["labs", "medications"] },
      { salt: "f".repeat(32), categories: ["labs", "medications"], reason: "sensitive-not-granted" },
      { salt, categories: ["medications", "labs"], reason: "sensitive-not-granted" },
      { salt, categories: ["labs", "medications"], reason: "sensitive-not-granted", extra: 1 },
    ])
      expect(opens(stored, wrong)).toBe(false);
    // markers stay in clear; the schema refuses a v2 patient entry with facts in clear, and a v1 commitment
    expect(isProcessMarker("not committed: completes intent 3")).toBe(true);
    expect(isProcessMarker("no-grant")).toBe(false);
    expect(
      decodeAuditEntry(encodeAuditEntry(storedEntry({ ...base, reason: "intent" }, undefined, null))).reason,
    ).toBe("intent");
    expect(() => decodeAuditEntry(encodeAuditEntry({ ...base, v: 2 } as never))).toThrow(BaseError);
    expect(() => decodeAuditEntry(encodeAuditEntry({ ...base, commitment } as never))).toThrow(BaseError);
    // version 1 entries still decode
    expect(decodeAuditEntry(encodeAuditEntry(base))).toEqual(base);
  });
});
