/**
 * FHIR dates as millisecond ranges by precision (https://hl7.org/fhir/R4/search.html#date):
 * `2020` is all of 2020, `2020-03-01T10:00` one minute, a dateTime with seconds one second.
 * Values without a zone (dates, and search values without one) are read as UTC.
 */

/** A half-open range [start, end) in epoch milliseconds; open ends are -/+Infinity. */
export interface MsRange {
  start: number;
  end: number;
}

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+\- ])(\d{2}):(\d{2}))?)?)?)?$/;

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parses a FHIR date, dateTime or instant (or a search date value, which may omit seconds and zone)
 * into the range its precision covers.
 * @param value - e.g. `2020`, `2020-03`, `2020-03-01`, `2020-03-01T10:00:00+01:00`
 * @returns the range, or undefined when the value is not a valid date
 */
export function dateRange(value: string): MsRange | undefined {
  const m = DATE_RE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, hh, mi, ss, frac, zulu, sign, oh, om] = m;
  const year = Number(y);
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  const utc = (m0: number, dd: number): number => {
    const date = new Date(0);
    date.setUTCFullYear(year, m0, dd); // unlike Date.UTC, keeps years 0-99 as they are
    return date.getTime();
  };
  if (mo === undefined) return { start: utc(0, 1), end: utc(12, 1) };
  if (d === undefined) return { start: utc(month - 1, 1), end: utc(month, 1) };
  const dayStart = utc(month - 1, day);
  if (hh === undefined) return { start: dayStart, end: dayStart + 86_400_000 };
  const [hour, minute, second] = [Number(hh), Number(mi), ss === undefined ? 0 : Number(ss)];
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  if (zulu === undefined && sign !== undefined && (Number(oh) > 14 || Number(om) > 59)) return undefined;
  const offset = sign === undefined ? 0 : (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  const millis = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const start = dayStart + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset;
  const width = ss === undefined ? 60_000 : frac === undefined ? 1000 : Math.max(1, 10 ** (3 - frac.length));
  return { start, end: start + width };
}

/**
 * The range a Period covers: from the start of `start` to the end of `end`, open where missing.
 * @param period - FHIR Period (https://hl7.org/fhir/R4/datatypes.html#Period)
 * @returns the range, or undefined when both ends are missing or invalid
 */
export function periodRange(period: { start?: unknown; end?: unknown }): MsRange | undefined {
  const start = typeof period.start === "string" ? dateRange(period.start) : undefined;
  const end = typeof period.end === "string" ? dateRange(period.end) : undefined;
  if (!start && !end) return undefined;
  return { start: start?.start ?? -Infinity, end: end?.end ?? Infinity };
}
