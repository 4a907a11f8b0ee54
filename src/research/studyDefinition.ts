/**
 * A study's definition: who is eligible (a small typed criteria language over FHIR data), what is
 * asked of each participant, how it is released, and what it pays. Validated once at the edge
 * (zod, then the rules zod cannot say: an age range that admits nobody, thresholds on one
 * observation that exclude each other, a budget below reward × participants). Every error names
 * the rule or the field, never a value. The protocol hash on the ledger is the keccak256 of the
 * definition's canonical JSON (RFC 8785 style: keys sorted), so anyone holding the definition can
 * check it against the registered study.
 */
import { keccak256, toBytes, type Hex } from "viem";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { CATEGORIES } from "../model/vocabulary.js";
import { canonicalUnit, toUnit } from "./ucumUnits.js";

export const SNOMED = "http://snomed.info/sct";
export const ICD10 = "http://hl7.org/fhir/sid/icd-10-cm";
export const ICD10_WHO = "http://hl7.org/fhir/sid/icd-10";
export const LOINC = "http://loinc.org";
export const RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";

const code = z.string().regex(/^[A-Za-z0-9.-]{1,32}$/, "must be a code (letters, digits, '.', '-')");

const conditionCriterion = z.strictObject({
  kind: z.literal("condition"),
  /** Any of these codes, active or resolved. */
  codes: z
    .array(z.strictObject({ system: z.enum([SNOMED, ICD10, ICD10_WHO]), code }))
    .min(1, "a condition criterion needs at least one code")
    .max(200),
});
const ageCriterion = z.strictObject({
  kind: z.literal("age"),
  /** Whole years on the day of evaluation, inclusive. */
  min: z.number().int().min(0).max(150).optional(),
  max: z.number().int().min(0).max(150).optional(),
});
const sexCriterion = z.strictObject({
  kind: z.literal("sex"),
  values: z
    .array(z.enum(["female", "male", "other", "unknown"]))
    .min(1, "a sex criterion needs at least one value")
    .max(4),
});
const observationCriterion = z.strictObject({
  kind: z.literal("observation"),
  /** LOINC code of the observation (or of a component, e.g. systolic blood pressure). */
  code,
  comparator: z.enum(["<", "<=", ">", ">="]),
  value: z.number().finite(),
  /** UCUM unit of `value`; stored values in any commensurable unit are converted to it. */
  unit: z.string().min(1).max(40),
  /** Which value counts: the patient's latest (default) or any. */
  which: z.enum(["latest", "any"]).default("latest"),
});
const medicationCriterion = z.strictObject({
  kind: z.literal("medication"),
  /** A medication class as its RxNorm codes: any of them, prescribed or taken. */
  rxnorm: z.array(code).min(1, "a medication criterion needs at least one RxNorm code").max(500),
});

export const criterionSchema = z.discriminatedUnion("kind", [
  conditionCriterion,
  ageCriterion,
  sexCriterion,
  observationCriterion,
  medicationCriterion,
]);
export type Criterion = z.infer<typeof criterionSchema>;
export type ObservationCriterion = z.infer<typeof observationCriterion>;

/** What an aggregate release computes over the participants. */
const measure = z.discriminatedUnion("of", [
  z.strictObject({ of: z.literal("age") }),
  z.strictObject({ of: z.literal("observation"), code, unit: z.string().min(1).max(40) }),
]);

const releaseSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("extract") }),
  z.strictObject({
    kind: z.literal("aggregate"),
    statistic: z.enum(["count", "sum", "mean", "histogram"]),
    /** The value summed, averaged or binned (not needed for count). */
    measure: measure.optional(),
    /** Integer clamping bounds of the value (sum, mean). */
    bounds: z.tuple([z.number().int(), z.number().int()]).optional(),
    /** Ascending bin edges (histogram). */
    edges: z.array(z.number().finite()).min(2).max(100).optional(),
  }),
]);
export type ReleaseSpec = z.infer<typeof releaseSchema>;

const isoTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" });

export const studyDefinitionSchema = z.strictObject({
  title: z.string().min(1).max(200),
  description: z.string().max(4000).default(""),
  /** Every criterion must hold (AND). */
  criteria: z.array(criterionSchema).max(50),
  request: z.strictObject({
    categories: z.array(z.enum(CATEGORIES)).min(1).max(CATEGORIES.length),
  }),
  release: releaseSchema,
  /** Credit units paid per accepted contribution (CareCredit has two decimals). */
  reward: z.number().int().positive(),
  maxParticipants: z.number().int().positive().max(1_000_000),
  /** Credits the sponsor sets aside; at least reward × maxParticipants (escrowed on the ledger). */
  budget: z.number().int().positive(),
  enrollment: z.strictObject({ start: isoTime, end: isoTime }),
  minK: z.number().int().min(2).max(1000),
  /** The study's total ε across every release at every node. */
  epsilonBudget: z.number().positive().max(100),
});
export type StudyDefinition = z.infer<typeof studyDefinitionSchema>;

const rule = (message: string, expression: string): BaseError =>
  new BaseError("invalid", message, { code: "business-rule", expression });

/** Lower and upper bounds a set of observation criteria on one code allows, in one unit. */
function observationRangeEmpty(criteria: readonly ObservationCriterion[]): boolean {
  const latest = criteria.filter((c) => c.which === "latest");
  if (latest.length < 2) return false;
  const unit = latest[0]!.unit;
  let lo = -Infinity;
  let loOpen = false;
  let hi = Infinity;
  let hiOpen = false;
  for (const c of latest) {
    const v = toUnit(c.value, c.unit, unit);
    if (v === undefined) return false; // different quantities: rejected by the unit check
    if (c.comparator === ">" || c.comparator === ">=") {
      if (v > lo || (v === lo && c.comparator === ">")) [lo, loOpen] = [v, c.comparator === ">"];
    } else if (v < hi || (v === hi && c.comparator === "<")) [hi, hiOpen] = [v, c.comparator === "<"];
  }
  return lo > hi || (lo === hi && (loOpen || hiOpen));
}

/**
 * Parses and checks a study definition.
 * @param input - The definition as received (JSON).
 * @returns the definition with defaults filled in
 * @throws BaseError `invalid` naming the field or the rule broken
 */
export function parseStudyDefinition(input: unknown): StudyDefinition {
  const parsed = studyDefinitionSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join(".");
    throw new BaseError("invalid", `${path || "definition"}: ${issue.message}`, { expression: path });
  }
  const d = parsed.data;
  if (d.criteria.length === 0)
    throw rule("the criteria are empty: a study names at least one criterion", "criteria");
  d.criteria.forEach((c, i) => {
    if (c.kind === "age" && c.min === undefined && c.max === undefined)
      throw rule("an age criterion needs min or max", `criteria.${i}`);
    if (c.kind === "observation" && canonicalUnit(c.unit) === undefined)
      throw rule("the unit is not a UCUM unit", `criteria.${i}.unit`);
  });
  const ages = d.criteria.filter((c) => c.kind === "age");
  const lo = Math.max(0, ...ages.map((c) => c.min ?? 0));
  const hi = Math.min(150, ...ages.map((c) => c.max ?? 150));
  if (lo > hi) throw rule("the age criteria admit nobody (min is above max)", "criteria.age");
  const sexes = d.criteria.filter((c) => c.kind === "sex");
  if (sexes.length > 1) {
    const common = sexes.reduce<string[]>(
      (acc, c) => acc.filter((v) => (c.values as string[]).includes(v)),
      sexes[0]!.values,
    );
    if (common.length === 0) throw rule("the sex criteria admit nobody", "criteria.sex");
  }
  const byCode = new Map<string, ObservationCriterion[]>();
  for (const c of d.criteria)
    if (c.kind === "observation") byCode.set(c.code, [...(byCode.get(c.code) ?? []), c]);
  for (const [, list] of byCode) {
    const units = new Set(list.map((c) => c.unit));
    for (const u of units)
      if (toUnit(1, u, list[0]!.unit) === undefined)
        throw rule("thresholds on one observation must be in commensurable units", "criteria.observation");
    if (observationRangeEmpty(list))
      throw rule("the thresholds on one observation admit no value", "criteria.observation");
  }
  if (Date.parse(d.enrollment.end) <= Date.parse(d.enrollment.start))
    throw rule("the enrollment window ends before it starts", "enrollment");
  if (BigInt(d.budget) < BigInt(d.reward) * BigInt(d.maxParticipants))
    throw rule("the budget is below reward × maxParticipants", "budget");
  checkRelease(d.release);
  if (d.release.kind === "extract" && !d.request.categories.includes("demographics"))
    throw rule(
      "an extract asks for demographics (its k check is over the de-identified Patient)",
      "request.categories",
    );
  return d;
}

function checkRelease(r: ReleaseSpec): void {
  if (r.kind === "extract" || r.statistic === "count") return;
  if (r.measure === undefined) throw rule(`a ${r.statistic} release names its measure`, "release.measure");
  if (r.measure.of === "observation" && canonicalUnit(r.measure.unit) === undefined)
    throw rule("the unit is not a UCUM unit", "release.measure.unit");
  if (r.statistic === "histogram") {
    const e = r.edges;
    if (e === undefined || e.some((x, i) => i > 0 && x <= e[i - 1]!))
      throw rule("a histogram release names ascending bin edges", "release.edges");
  } else if (r.bounds === undefined || r.bounds[0] > r.bounds[1]) {
    throw rule(`a ${r.statistic} release names integer bounds lo ≤ hi`, "release.bounds");
  }
}

/** JSON with object keys sorted at every level (the canonical form hashed into the protocol hash). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null)
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

/** keccak256 of the definition's canonical JSON: the protocol hash registered on the ledger. */
export function protocolHash(d: StudyDefinition): Hex {
  return keccak256(toBytes(canonicalJson(d)));
}
