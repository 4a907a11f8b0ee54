/**
 * One entry of the audit log: its schema (validated with zod, unknown keys rejected) and its
 * canonical encoding (RFC 8785 JSON Canonicalization Scheme), whose UTF-8 bytes are the Merkle
 * leaf. Entries name accounts and pseudonymous ids, never a person's name or clinical values.
 * https://www.rfc-editor.org/rfc/rfc8785
 */
import canonicalize from "canonicalize";
import { sha256, stringToBytes } from "viem";
import { z } from "zod";
import { CATEGORIES, PURPOSES, type Category } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import { leafHash } from "./merkleHash.js";
import { ADDRESS_PATTERN, purposeOfUse } from "../model/schemas.js";

export const AUDIT_ACTIONS = [
  "read",
  "search",
  "create",
  "update",
  "delete",
  "share",
  "export",
  "deny",
  "break-glass",
  "consent-granted",
  "consent-revoked",
  "erase",
  "release",
  "fetch",
  "receive",
  "login",
  "anchor",
  "payout",
  "issue",
  "alert",
  "consent-request",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

const address = z.string().regex(ADDRESS_PATTERN, "must be a 0x-prefixed 20-byte address");
/** An opaque identifier: no spaces, so free text such as a name does not fit. */
const opaqueId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "expected an opaque identifier");
/** A FHIR relative reference, `Type/id` or `Type/id/_history/vid`. */
const reference = z
  .string()
  .regex(/^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9.-]{1,64}(\/_history\/[A-Za-z0-9.-]{1,64})?$/, "expected Type/id");

export const auditEntrySchema = z.strictObject({
  v: z.literal(1),
  time: z.iso.datetime(),
  requestId: opaqueId,
  actor: z.strictObject({
    account: address,
    organization: opaqueId.optional(),
    role: opaqueId.optional(),
  }),
  /** The patient's account address or pseudonymous id: never a name. */
  patient: z.union([address, opaqueId]).optional(),
  action: z.enum(AUDIT_ACTIONS),
  resources: z.array(reference).max(1000).optional(),
  categories: z.array(z.enum(CATEGORIES)).max(CATEGORIES.length).optional(),
  purpose: purposeOfUse.optional(),
  decision: z.enum(["permit", "deny"]),
  reason: z.string().min(1).max(500).optional(),
  node: z.union([address, opaqueId]).optional(),
});

/** A validated audit entry, as a caller records it. */
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** A SHA-256 commitment, lowercase hex without prefix. */
const COMMITMENT = /^[0-9a-f]{64}$/;

/**
 * An entry as the log stores it: an entry about a patient also carries `prev`, the index of the
 * log's previous entry about the same patient, filled by the log at append time (absent on the
 * patient's first entry, and on entries stored before patient chains existed). Callers cannot set
 * it: `auditEntrySchema` refuses the key. docs/audit-completeness.md
 *
 * Version 2 (every entry appended since store migration 019): an entry about a patient holds no
 * category and no reason that is not a process marker ({@link isProcessMarker}); it holds
 * `commitment`, `SHA-256(UTF-8(salt || openingText))` of what was taken out (salt: 32 hex digits), and the opening (salt
 * and facts) is stored apart, in `audit_openings`, deleted when the patient erases their record.
 * Version 1 entries hold categories and reasons in clear and no commitment.
 */
export const loggedAuditEntrySchema = auditEntrySchema
  .extend({
    v: z.union([z.literal(1), z.literal(2)]),
    prev: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    commitment: z.string().regex(COMMITMENT, "expected 64 lowercase hex digits").optional(),
  })
  .refine((e) => e.v === 2 || e.commitment === undefined, {
    message: "a version 1 entry has no commitment",
    path: ["commitment"],
  })
  .refine((e) => e.v === 1 || e.patient === undefined || e.categories === undefined, {
    message: "a version 2 entry about a patient holds no categories",
    path: ["categories"],
  })
  .refine(
    (e) => e.v === 1 || e.patient === undefined || e.reason === undefined || isProcessMarker(e.reason),
    { message: "a version 2 entry about a patient holds only process markers as reason", path: ["reason"] },
  );

/** A stored entry, with its patient's `prev` link when it has one. */
export type LoggedAuditEntry = z.infer<typeof loggedAuditEntrySchema>;

const ADDRESS = ADDRESS_PATTERN;
const OPAQUE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const REFERENCE = /^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9.-]{1,64}(\/_history\/[A-Za-z0-9.-]{1,64})?$/;
/** `Date.prototype.toISOString` output, which the schema's ISO datetime accepts. */
const ISO_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const ENTRY_KEYS = new Set(Object.keys(auditEntrySchema.shape));
const ACTOR_KEYS = new Set(["account", "organization", "role"]);
const ACTION_SET = new Set<string>(AUDIT_ACTIONS);
const CATEGORY_SET = new Set<string>(CATEGORIES);
const PURPOSE_SET = new Set<string>(PURPOSES);

const opaque = (v: unknown) => typeof v === "string" && OPAQUE.test(v);
const addressOrOpaque = (v: unknown) => typeof v === "string" && (ADDRESS.test(v) || OPAQUE.test(v));
const onlyKeys = (o: object, keys: Set<string>) => {
  for (const k in o) if (!keys.has(k)) return false;
  return true;
};
const stringsIn = (v: unknown, max: number, test: (x: string) => boolean) =>
  Array.isArray(v) && v.length <= max && v.every((x) => typeof x === "string" && test(x));

/**
 * The hot path's check: true only for entries the schema certainly accepts, as the records and
 * consent layers build them (plain objects, no undefined-valued keys, times from `toISOString`).
 * Anything else (including every invalid entry) goes through the schema, which also names what is
 * wrong. A property test holds it to the schema.
 */
export function certainlyValidEntry(e: unknown): e is AuditEntry {
  if (typeof e !== "object" || e === null || Object.getPrototypeOf(e) !== Object.prototype) return false;
  const x = e as Record<string, unknown>;
  const actor = x.actor as Record<string, unknown> | null | undefined;
  return (
    onlyKeys(x, ENTRY_KEYS) &&
    x.v === 1 &&
    typeof x.time === "string" &&
    ISO_TIME.test(x.time) &&
    opaque(x.requestId) &&
    typeof actor === "object" &&
    actor !== null &&
    Object.getPrototypeOf(actor) === Object.prototype &&
    onlyKeys(actor, ACTOR_KEYS) &&
    typeof actor.account === "string" &&
    ADDRESS.test(actor.account) &&
    (!("organization" in actor) || opaque(actor.organization)) &&
    (!("role" in actor) || opaque(actor.role)) &&
    (!("patient" in x) || addressOrOpaque(x.patient)) &&
    typeof x.action === "string" &&
    ACTION_SET.has(x.action) &&
    (!("resources" in x) || stringsIn(x.resources, 1000, (r) => REFERENCE.test(r))) &&
    (!("categories" in x) || stringsIn(x.categories, CATEGORIES.length, (c) => CATEGORY_SET.has(c))) &&
    (!("purpose" in x) || (typeof x.purpose === "string" && PURPOSE_SET.has(x.purpose))) &&
    (x.decision === "permit" || x.decision === "deny") &&
    (!("reason" in x) || (typeof x.reason === "string" && x.reason.length >= 1 && x.reason.length <= 500)) &&
    (!("node" in x) || addressOrOpaque(x.node))
  );
}

/**
 * Validates an entry, rejecting unknown keys and malformed values.
 * @param input - an untrusted value
 * @returns the entry
 * @throws BaseError("invalid") naming the offending fields (not their values)
 */
export function parseAuditEntry(input: unknown): AuditEntry {
  const result = auditEntrySchema.safeParse(input);
  if (result.success) return result.data;
  const fields = [...new Set(result.error.issues.map((i) => i.path.join(".") || "(entry)"))];
  throw new BaseError("invalid", "invalid audit entry", {
    details: `invalid fields: ${fields.join(", ")}`,
    expression: fields[0],
  });
}

/**
 * The canonical JSON text of an entry (RFC 8785), the exact text stored and hashed.
 * @param entry - a validated entry
 * @returns canonical JSON. https://www.rfc-editor.org/rfc/rfc8785
 */
export function encodeAuditEntry(entry: AuditEntry | LoggedAuditEntry): string {
  const text = canonicalize(entry);
  if (text === undefined) throw new BaseError("internal", "audit entry has no JSON form");
  return text;
}

/**
 * Parses stored entry text back into an entry.
 * @param text - canonical JSON as stored
 * @returns the entry, with `prev` when it has one
 * @throws BaseError("invalid") when the text is not a valid entry
 */
export function decodeAuditEntry(text: string): LoggedAuditEntry {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new BaseError("invalid", "stored audit entry is not JSON", { cause });
  }
  const result = loggedAuditEntrySchema.safeParse(json);
  if (result.success) return result.data;
  const fields = [...new Set(result.error.issues.map((i) => i.path.join(".") || "(entry)"))];
  throw new BaseError("invalid", "invalid audit entry", {
    details: `invalid fields: ${fields.join(", ")}`,
    expression: fields[0],
  });
}

const utf8 = new TextEncoder();

/**
 * The Merkle leaf hash of an entry's stored text: `SHA-256(0x00 || UTF-8(text))`.
 * @param text - the canonical JSON text
 * @returns 32 bytes. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
export function entryLeafHash(text: string): Uint8Array {
  return leafHash(utf8.encode(text));
}

/**
 * The reasons the records layer writes around a change (`intent`, `committed...`,
 * `not committed...`; src/records/intentSweeper.ts finds them by their text): they name no
 * clinical fact and stay in clear in a version 2 entry. Every other reason of an entry about a
 * patient (a decision's reason such as `sensitive-not-granted`, a peer's answer) goes into the
 * opening.
 */
export function isProcessMarker(reason: string): boolean {
  return (
    reason === "intent" ||
    reason === "committed" ||
    reason === "not committed" ||
    reason.startsWith("committed:") ||
    reason.startsWith("not committed:")
  );
}

/** What a version 2 entry about a patient commits to instead of holding it. */
export interface AuditFactsOpened {
  categories?: Category[] | undefined;
  reason?: string | undefined;
}

/** The opening of a version 2 entry's commitment: a 128-bit salt (hex) and the facts. */
export interface AuditOpening extends AuditFactsOpened {
  salt: string;
}

export const auditOpeningSchema = z.strictObject({
  salt: z.string().regex(/^[0-9a-f]{32}$/, "expected 32 lowercase hex digits"),
  categories: auditEntrySchema.shape.categories,
  reason: auditEntrySchema.shape.reason,
});

/**
 * The facts an entry about a patient takes out of its text (its categories and a reason that is
 * not a process marker), or undefined when it has none to take out or is about no patient.
 */
export function factsToSeal(e: AuditEntry): AuditFactsOpened | undefined {
  if (e.patient === undefined) return undefined;
  const reason = e.reason !== undefined && !isProcessMarker(e.reason) ? e.reason : undefined;
  if (e.categories === undefined && reason === undefined) return undefined;
  const facts: AuditFactsOpened = {};
  if (e.categories !== undefined) facts.categories = e.categories;
  if (reason !== undefined) facts.reason = reason;
  return facts;
}

/**
 * The committed text of the facts: RFC 8785 of `{categories?, reason?}` (categories in the
 * entry's order).
 */
export function openingText(facts: AuditFactsOpened): string {
  const { categories, reason } = facts;
  // Category names need no escaping, and JSON.stringify of a string is JCS's unless it holds a
  // lone surrogate, which the general encoder refuses.
  if (reason === undefined || !/[\uD800-\uDFFF]/.test(reason)) {
    const c =
      categories === undefined
        ? ""
        : `"categories":${categories.length === 0 ? "[]" : `["${categories.join('","')}"]`}`;
    const r = reason === undefined ? "" : `"reason":${JSON.stringify(reason)}`;
    return `{${c}${c !== "" && r !== "" ? "," : ""}${r}}`;
  }
  const o: { categories?: Category[]; reason?: string } = {};
  if (categories !== undefined) o.categories = categories;
  o.reason = reason;
  const text = canonicalize(o);
  if (text === undefined) throw new BaseError("internal", "audit facts have no JSON form");
  return text;
}

/**
 * `SHA-256(UTF-8(salt || text))` as lowercase hex without prefix, `salt` being the 32 lowercase hex
 * digits of 128 random bits (browser-safe; the append path uses `serverCommitment`,
 * src/audit/serverHash.ts, which gives the same digest).
 */
export function commitmentOf(salt: string, text: string): string {
  return sha256(stringToBytes(salt + text), "hex").slice(2);
}

/**
 * Whether `opening` opens the commitment of `entry`.
 * @returns false for an entry without commitment or a malformed opening
 */
export function opens(entry: LoggedAuditEntry, opening: unknown): opening is AuditOpening {
  if (entry.commitment === undefined) return false;
  const parsed = auditOpeningSchema.safeParse(opening);
  if (!parsed.success) return false;
  const text = openingText(parsed.data);
  return commitmentOf(parsed.data.salt, text) === entry.commitment;
}

/**
 * The entry as a version 2 text stores it: facts taken out, `commitment` in their place, `prev`
 * when given (the general path; `canonicalText` writes the same bytes fast).
 */
export function storedEntry(
  e: AuditEntry,
  prev: number | undefined,
  commitment: string | null,
): LoggedAuditEntry {
  const out: LoggedAuditEntry = { ...e, v: 2 };
  if (prev !== undefined) out.prev = prev;
  if (e.patient !== undefined) {
    delete out.categories;
    if (e.reason !== undefined && !isProcessMarker(e.reason)) delete out.reason;
  }
  if (commitment !== null) out.commitment = commitment;
  return out;
}

/**
 * The entry with its opened facts put back, for display (`/audit/me`, the AuditEvent view). Call it
 * only with an opening {@link opens} accepted.
 */
export function openedEntry(entry: LoggedAuditEntry, opening: AuditOpening | undefined): LoggedAuditEntry {
  if (opening === undefined) return entry;
  const out: LoggedAuditEntry = { ...entry };
  if (opening.categories !== undefined) out.categories = opening.categories;
  if (opening.reason !== undefined) out.reason = opening.reason;
  return out;
}

/** The value of the indexed `patient` column: addresses lowercased so lookups ignore checksums. */
export function patientKey(patient: string): string {
  return ADDRESS_PATTERN.test(patient) ? patient.toLowerCase() : patient;
}
