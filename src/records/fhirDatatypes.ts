/**
 * FHIR R4 primitive and data type schemas (https://hl7.org/fhir/R4/datatypes.html) in zod, with
 * messages that describe the rule and never echo the value.
 */
import { z } from "zod";

const YEAR = "([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)";
const TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?";
const ZONE = "(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))";
const MONTH_DAY = "(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?";
/** FHIR R4 `date`, `dateTime`, `instant`, `time`, `id` and `code` regexes (https://hl7.org/fhir/R4/datatypes.html). */
export const FHIR_DATE_RE = new RegExp(`^${YEAR}${MONTH_DAY}$`);
export const FHIR_DATE_TIME_RE = new RegExp(
  `^${YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T${TIME}${ZONE})?)?)?$`,
);
export const FHIR_INSTANT_RE = new RegExp(
  `^${YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T${TIME}${ZONE}$`,
);
export const FHIR_TIME_RE = new RegExp(`^${TIME}$`);
export const FHIR_ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
const CODE_RE = /^[^\s]+(\s[^\s]+)*$/;

export const REFERENCE_RES = [
  /^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/,
  /^https?:\/\/[^\s/]+(\/[^\s/]+)*\/[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/,
  /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/,
  /^#[A-Za-z0-9\-.]{0,64}$/,
];
/** A conditional reference such as `Organization?identifier=system|value` (transactions only). */
export const CONDITIONAL_REFERENCE_RE = /^([A-Z][A-Za-z]{1,63})\?(\S+)$/;

/** True when a full date inside `value` exists in the calendar (no 30 February). */
export function calendarOk(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!m) return true;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}
export const isDateTime = (v: string): boolean => FHIR_DATE_TIME_RE.test(v) && calendarOk(v);
export const isInstant = (v: string): boolean => FHIR_INSTANT_RE.test(v) && calendarOk(v);

export const need = (what: string) => ({
  error: (issue: { input?: unknown }) =>
    issue.input === undefined ? "is required" : issue.input === null ? "must not be null" : `must be ${what}`,
});
export const str = () => z.string(need("a string"));
export const fhirString = str().min(1, "must not be empty");
export const code = str().regex(CODE_RE, "must be a code (no leading, trailing or repeated whitespace)");
export const uri = str().regex(/^\S+$/, "must be a URI without whitespace");
export const id = str().regex(FHIR_ID_RE, "must be a FHIR id (1-64 of A-Z a-z 0-9 - .)");
export const dateTime = str().refine(
  isDateTime,
  "must be a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or full with zone)",
);
export const date = str().refine((v) => FHIR_DATE_RE.test(v) && calendarOk(v), "must be a FHIR date");
export const instant = str().refine(isInstant, "must be a FHIR instant (full date, time and zone)");
export const time = str().regex(FHIR_TIME_RE, "must be a FHIR time (hh:mm:ss)");
export const boolean = z.boolean(need("true or false"));
export const integer = z.number(need("a number")).int("must be an integer");
export const decimal = z.number(need("a number"));
export const object = z.looseObject({}, need("an object"));
export const coding = z.looseObject(
  {
    system: uri.optional(),
    version: fhirString.optional(),
    code: code.optional(),
    display: fhirString.optional(),
  },
  need("a Coding object"),
);
export const codeableConcept = z.looseObject(
  { coding: z.array(coding, need("an array")).optional(), text: fhirString.optional() },
  need("a CodeableConcept object"),
);
export const identifier = z.looseObject(
  {
    use: code.optional(),
    system: uri.optional(),
    value: fhirString.optional(),
    type: codeableConcept.optional(),
  },
  need("an Identifier object"),
);
export const reference = z.looseObject(
  {
    reference: str().optional(),
    type: uri.optional(),
    identifier: identifier.optional(),
    display: fhirString.optional(),
  },
  need("a Reference object"),
);
export const period = z.looseObject(
  { start: dateTime.optional(), end: dateTime.optional() },
  need("a Period object"),
);
export const quantity = z.looseObject(
  {
    value: decimal.optional(),
    comparator: code.optional(),
    unit: fhirString.optional(),
    system: uri.optional(),
    code: code.optional(),
  },
  need("a Quantity object"),
);
export const range = z.looseObject(
  { low: quantity.optional(), high: quantity.optional() },
  need("a Range object"),
);
export const ratio = z.looseObject(
  { numerator: quantity.optional(), denominator: quantity.optional() },
  need("a Ratio object"),
);

const DATATYPES: Record<string, z.ZodType> = {
  string: fhirString,
  code,
  uri,
  boolean,
  integer,
  decimal,
  date,
  dateTime,
  instant,
  time,
  object,
  Coding: coding,
  CodeableConcept: codeableConcept,
  Identifier: identifier,
  Reference: reference,
  Period: period,
  Quantity: quantity,
  Age: quantity,
  Range: range,
  Ratio: ratio,
  Timing: object,
  SampledData: object,
  Attachment: object,
};
/** Choice suffixes name primitive types with a capital (`valueString`, `onsetDateTime`). */
export const choiceType = (suffix: string): z.ZodType =>
  DATATYPES[suffix] ?? DATATYPES[suffix.charAt(0).toLowerCase() + suffix.slice(1)] ?? object;
