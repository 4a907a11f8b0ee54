/**
 * Unit normalization of device readings to the UCUM unit each vital is stored in, through the
 * NLM's UCUM library (@lhncbc/ucum-lhc, https://ucum.nlm.nih.gov/). The library's conversion of
 * one value costs tens of microseconds; every conversion between two of these units is affine
 * (a scale, and for temperatures an offset), so the library converts 0 and 1 once per unit pair
 * and every reading after that costs one multiply-add. A pair whose conversion is not affine (the
 * library disagrees at a third point) is converted by the library each time.
 */
import ucum from "@lhncbc/ucum-lhc";
import { VITALS, type QuantityKind } from "./vitals.js";

type Conversion =
  { kind: "affine"; offset: number; scale: number } | { kind: "library" } | { kind: "refused" };

const utils = ucum.UcumLhcUtils.getInstance();
const conversions = new Map<string, Conversion>();
/** Unit strings a device may send are few; a flood of distinct junk units must not grow the cache. */
const MAX_CACHED = 4096;

function convertOnce(
  unit: string,
  value: number,
  to: string,
  molecularWeight: number | undefined,
): number | undefined {
  try {
    const result = utils.convertUnitTo(unit, value, to, { molecularWeight: molecularWeight ?? null });
    return result.status === "succeeded" && typeof result.toVal === "number" ? result.toVal : undefined;
  } catch {
    return undefined;
  }
}

function conversionOf(kind: QuantityKind, unit: string): Conversion {
  const key = `${kind}\0${unit}`;
  const known = conversions.get(key);
  if (known) return known;
  const def = VITALS[kind];
  let found: Conversion;
  const at0 = convertOnce(unit, 0, def.unit, def.molecularWeight);
  const at1 = convertOnce(unit, 1, def.unit, def.molecularWeight);
  const at10 = convertOnce(unit, 10, def.unit, def.molecularWeight);
  if (at0 === undefined || at1 === undefined || at10 === undefined) found = { kind: "refused" };
  else {
    const scale = at1 - at0;
    const affine = Math.abs(at0 + 10 * scale - at10) <= 1e-9 * Math.max(1, Math.abs(at10));
    found = affine ? { kind: "affine", offset: at0, scale } : { kind: "library" };
  }
  if (conversions.size >= MAX_CACHED) conversions.clear();
  conversions.set(key, found);
  return found;
}

/**
 * A reading's value in the unit its vital is stored in.
 * @param kind - which vital
 * @param value - the value as sent
 * @param unit - the UCUM unit as sent (case-sensitive UCUM, e.g. `[degF]`, `mg/dL`, `kPa`)
 * @returns the value in {@link VITALS}[kind].unit, or undefined when the unit is not UCUM or
 *   measures something else
 */
export function toCanonical(kind: QuantityKind, value: number, unit: string): number | undefined {
  if (unit === VITALS[kind].unit) return value;
  const c = conversionOf(kind, unit);
  switch (c.kind) {
    case "affine":
      return c.offset + c.scale * value;
    case "library":
      return convertOnce(unit, value, VITALS[kind].unit, VITALS[kind].molecularWeight);
    case "refused":
      return undefined;
  }
}
