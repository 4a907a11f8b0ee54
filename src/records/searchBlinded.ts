/**
 * The blinded forms of the Patient search values that are PHI: name prefixes, identifiers and
 * birth dates (docs/search-index.md says what they leak). Each value becomes one or more strings
 * that BlindIndex.token() turns into HMACs; a query computes the same strings from its value, so
 * equality search works on the HMACs alone.
 *
 * - **Names** (FHIR string search: case and accent insensitive, prefix match): each name part is
 *   normalized (Unicode NFKD, combining marks removed, lower case, spaces collapsed) and every
 *   prefix of 1 to {@link MAX_PREFIX} characters is indexed, tagged with the part's field
 *   (`family`, `given`, `other` for prefix/suffix/text). A longer search value is looked up by its
 *   first MAX_PREFIX characters and then checked against the decrypted resource.
 * - **Identifiers and gender**: the four token forms (`system|value`, `*|value`, `|value`, `system|*`).
 * - **Birth dates** (years 1800-2199): the unit of the date's precision and the units above it
 *   (a day: its day, month and year), each tagged with the precision of the stored date. A date
 *   search is turned into the set of units it matches, whole years and months where it can.
 */
import { dateRange, type MsRange } from "./dateRange.js";
import type { DateValue, TokenValue } from "./searchParameters.js";

/** Longest name prefix indexed (characters after normalization). */
export const MAX_PREFIX = 16;
const BIRTH_YEARS = { first: 1800, last: 2199 } as const;
export type NameField = "family" | "given" | "other";

/** FHIR string normalization: NFKD, no combining marks, lower case, single spaces, trimmed. */
export function normalizeText(value: string): string {
  return value.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/\s+/gu, " ").trim();
}

/** The blind-index inputs of one name part: `name:<field>:<prefix>` for each bounded prefix. */
export function namePrefixInputs(field: NameField, normalized: string): string[] {
  const chars = [...normalized].slice(0, MAX_PREFIX);
  const out: string[] = [];
  for (let n = 1; n <= chars.length; n++) out.push(`name:${field}:${chars.slice(0, n).join("")}`);
  return out;
}

/** The blind-index input a search value looks up in one field (its first MAX_PREFIX characters). */
export function nameQueryInput(field: NameField, normalized: string): string {
  return `name:${field}:${[...normalized].slice(0, MAX_PREFIX).join("")}`;
}

/** Whether a normalized search value is longer than the index holds (needs a check after decryption). */
export const beyondIndex = (normalized: string): boolean => [...normalized].length > MAX_PREFIX;

/**
 * Token inputs of a stored identifier or gender in its own domain (never equal to a code's): the
 * forms `system|value`, `*|value`, `|value` (no system) and `system|*` a query can take.
 */
export function tokenInputs(
  domain: "identifier" | "gender",
  system: string | undefined,
  value: string | undefined,
): string[] {
  const out: string[] = [];
  if (value !== undefined) {
    out.push(`${domain}:*|${value}`);
    out.push(system === undefined ? `${domain}:|${value}` : `${domain}:${system}|${value}`);
  }
  if (system !== undefined) out.push(`${domain}:${system}|*`);
  return out;
}

/** The one input a token query value looks up (searchParameters.ts TokenValue forms). */
export function tokenQueryInput(domain: "identifier" | "gender", v: TokenValue): string {
  switch (v.match) {
    case "code":
      return `${domain}:*|${v.code}`;
    case "system-code":
      return `${domain}:${v.system}|${v.code}`;
    case "no-system":
      return `${domain}:|${v.code}`;
    case "system":
      return `${domain}:${v.system}|*`;
  }
}

const DAY = 86_400_000;
const pad2 = (n: number) => String(n).padStart(2, "0");
/** UTC midnight (Date.UTC: years below 100 are not among the birth years). */
const utc = (y: number, m0: number, d: number): number => Date.UTC(y, m0, d);

/** The blind-index inputs of a stored birthDate (none outside years 1800-2199 or when invalid). */
export function birthdateInputs(value: string): string[] {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(value);
  if (!m || !dateRange(value)) return [];
  const [, y = "", mo, d] = m;
  const year = Number(y);
  if (year < BIRTH_YEARS.first || year > BIRTH_YEARS.last) return [];
  if (mo === undefined) return [`bd:y:${y}`];
  if (d === undefined) return [`bd:m:${y}-${mo}`, `bd:my:${y}`];
  return [`bd:d:${y}-${mo}-${d}`, `bd:dm:${y}-${mo}`, `bd:dy:${y}`];
}

type Pred = (target: MsRange) => boolean;

/**
 * The blind-index inputs a birthdate search value matches: for each precision a stored date may
 * have, the units whose range satisfies the prefix, grouped into whole years and months.
 * @param value - a parsed date search value (prefixes of BIRTHDATE_PREFIXES)
 * @param matches - the prefix semantics (searchIndex.ts dateMatches)
 */
export function birthdateQueryInputs(
  value: DateValue,
  matches: (v: DateValue, t: MsRange) => boolean,
): string[] {
  const pred: Pred = (t) => matches(value, t);
  // a unit more than a day away from both ends of the search range lies wholly before, inside or
  // after it: the prefix holds for all of it (its months and days too) or for none
  const near = (r: MsRange, x: number) => x > r.start - DAY && x < r.end + DAY;
  const far = (r: MsRange) => !near(r, value.start) && !near(r, value.end);
  const out: string[] = [];
  for (let y = BIRTH_YEARS.first; y <= BIRTH_YEARS.last; y++) {
    const year = { start: utc(y, 0, 1), end: utc(y + 1, 0, 1) };
    if (far(year)) {
      // every year, month and day of it alike
      if (pred(year)) out.push(`bd:y:${y}`, `bd:my:${y}`, `bd:dy:${y}`);
      continue;
    }
    // year precision
    if (pred(year)) out.push(`bd:y:${y}`);
    const monthRange = (m0: number) => ({ start: utc(y, m0, 1), end: utc(y, m0 + 1, 1) });
    const dayRange = (m0: number, d: number) => ({ start: utc(y, m0, d), end: utc(y, m0, d) + DAY });
    // month precision
    const months: string[] = [];
    for (let m0 = 0; m0 < 12; m0++) if (pred(monthRange(m0))) months.push(`bd:m:${y}-${pad2(m0 + 1)}`);
    out.push(...(months.length === 12 ? [`bd:my:${y}`] : months));
    // day precision
    const yearDays: string[] = [];
    let wholeYear = true;
    for (let m0 = 0; m0 < 12; m0++) {
      const month = monthRange(m0);
      if (far(month)) {
        if (pred(dayRange(m0, 1))) yearDays.push(`bd:dm:${y}-${pad2(m0 + 1)}`);
        else wholeYear = false;
        continue;
      }
      const days: string[] = [];
      const count = Math.round((month.end - month.start) / DAY);
      for (let d = 1; d <= count; d++)
        if (pred(dayRange(m0, d))) days.push(`bd:d:${y}-${pad2(m0 + 1)}-${pad2(d)}`);
      if (days.length === count) yearDays.push(`bd:dm:${y}-${pad2(m0 + 1)}`);
      else {
        wholeYear = false;
        yearDays.push(...days);
      }
    }
    out.push(...(wholeYear ? [`bd:dy:${y}`] : yearDays));
  }
  return out;
}
