/**
 * UCUM unit conversion for study criteria and measures, through the NLM's UCUM library
 * (@lhncbc/ucum-lhc, https://ucum.nlm.nih.gov/). Conversions between the units of one quantity
 * are affine (a scale, and for temperatures an offset): the library converts 0, 1 and 10 once per
 * unit pair and checks the pair is affine; every value after that is one multiply-add, so matching
 * 100k patients does not call the library 100k times.
 */
import ucum from "@lhncbc/ucum-lhc";

const utils = ucum.UcumLhcUtils.getInstance();

type Affine = { scale: number; offset: number } | null;
const pairs = new Map<string, Affine>();
const MAX_CACHED = 4096;

function convertOnce(from: string, value: number, to: string): number | undefined {
  try {
    const r = utils.convertUnitTo(from, value, to);
    return r.status === "succeeded" && typeof r.toVal === "number" ? r.toVal : undefined;
  } catch {
    return undefined;
  }
}

function affineOf(from: string, to: string): Affine {
  const key = `${from}\0${to}`;
  const known = pairs.get(key);
  if (known !== undefined) return known;
  let found: Affine = null;
  if (from === to) found = { scale: 1, offset: 0 };
  else {
    const a0 = convertOnce(from, 0, to);
    const a1 = convertOnce(from, 1, to);
    const a10 = convertOnce(from, 10, to);
    if (a0 !== undefined && a1 !== undefined && a10 !== undefined) {
      const scale = a1 - a0;
      if (Math.abs(a0 + 10 * scale - a10) <= 1e-9 * Math.max(1, Math.abs(a10))) found = { scale, offset: a0 };
    }
  }
  if (pairs.size >= MAX_CACHED) pairs.clear();
  pairs.set(key, found);
  return found;
}

/** The unit if it is valid UCUM, else undefined. */
export function canonicalUnit(unit: string): string | undefined {
  try {
    return utils.validateUnitString(unit).status === "valid" ? unit : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `value` in unit `from` expressed in unit `to`.
 * @returns undefined when either unit is not UCUM or they measure different things
 */
export function toUnit(value: number, from: string, to: string): number | undefined {
  const a = affineOf(from, to);
  return a === null ? undefined : a.offset + a.scale * value;
}
