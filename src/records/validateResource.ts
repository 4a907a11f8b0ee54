/**
 * Structural validation of FHIR R4 JSON at the edge (https://hl7.org/fhir/R4/json.html): known
 * resource type, typed primitives and data types, required elements of the common types, choice
 * elements, reference formats and FHIR element names. Errors name the path of the first problem
 * and never the offending value, which may be PHI.
 */
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { BUNDLE_TYPES, HTTP_VERBS, isSupportedType } from "./fhirTypes.js";
import {
  CONDITIONAL_REFERENCE_RE,
  REFERENCE_RES,
  choiceType,
  code,
  coding,
  fhirString,
  id,
  instant,
  isDateTime,
  isInstant,
  need,
  object,
  period,
  str,
  uri,
} from "./fhirDatatypes.js";
import type { BundleEntry, FhirBundle, FhirResource, SupportedType } from "./fhirTypes.js";
import { RESOURCE_ELEMENTS } from "./resourceElements.js";
import type { ElementRule } from "./resourceElements.js";

const ELEMENT_NAME_RE = /^_?[a-z][A-Za-z0-9]{0,99}$/;
const MAX_DEPTH = 32;

type Path = (string | number)[];
interface Problem {
  path: Path;
  message: string;
}
interface Options {
  allowConditionalReferences?: boolean;
}

function shapeOf(rules: ReadonlyMap<string, ElementRule>): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, rule] of rules) {
    if (rule.choice) continue;
    const base = rule.backbone
      ? z.looseObject(shapeOf(rule.backbone), need("an object"))
      : choiceType(rule.types[0] ?? "object");
    const typed = rule.array
      ? z.array(base, need("an array")).min(rule.required ? 1 : 0, "must not be empty")
      : base;
    shape[name] = rule.required ? typed : typed.optional();
  }
  return shape;
}

const baseShape = {
  id: id.optional(),
  meta: z
    .looseObject(
      {
        versionId: id.optional(),
        lastUpdated: instant.optional(),
        source: uri.optional(),
        profile: z.array(uri, need("an array")).optional(),
        security: z.array(coding, need("an array")).optional(),
        tag: z.array(coding, need("an array")).optional(),
      },
      need("a Meta object"),
    )
    .optional(),
  implicitRules: uri.optional(),
  language: code.optional(),
  text: z.looseObject({ status: code, div: str() }, need("a Narrative object")).optional(),
  contained: z.array(object, need("an array")).optional(),
  extension: z.array(z.looseObject({ url: uri }, need("an Extension object")), need("an array")).optional(),
  modifierExtension: z
    .array(z.looseObject({ url: uri }, need("an Extension object")), need("an array"))
    .optional(),
};
const SCHEMAS = new Map<SupportedType, z.ZodType>();
function schemaOf(type: SupportedType): z.ZodType {
  let schema = SCHEMAS.get(type);
  if (!schema) {
    schema = z.looseObject({ ...baseShape, ...shapeOf(RESOURCE_ELEMENTS.get(type) ?? new Map()) });
    SCHEMAS.set(type, schema);
  }
  return schema;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks choice elements `x[x]` of `obj` (and of its backbone parts): allowed type, at most one, required. */
function checkChoices(
  obj: Record<string, unknown>,
  rules: ReadonlyMap<string, ElementRule>,
  path: Path,
): Problem | undefined {
  for (const [name, rule] of rules) {
    if (rule.backbone) {
      const items = rule.array ? obj[name] : [obj[name]];
      if (!Array.isArray(items)) continue;
      for (const [i, item] of items.entries()) {
        const p = isObject(item)
          ? checkChoices(item, rule.backbone, rule.array ? [...path, name, i] : [...path, name])
          : undefined;
        if (p) return p;
      }
    }
    if (!rule.choice) continue;
    const keys = Object.keys(obj).filter(
      (k) => k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length)) && obj[k] !== undefined,
    );
    const where = [...path, `${name}[x]`];
    if (keys.length === 0 && rule.required) return { path: where, message: "is required" };
    if (keys.length > 1) return { path: where, message: "must have only one type" };
    const key = keys[0];
    if (key === undefined) continue;
    const suffix = key.slice(name.length);
    if (!rule.types.includes(suffix)) return { path: where, message: "has a type that is not allowed here" };
    const result = choiceType(suffix).safeParse(obj[key]);
    if (!result.success) return fromZod(result.error, [...path, key]);
  }
  return undefined;
}

function fromZod(error: z.ZodError, prefix: Path): Problem {
  const issue = error.issues[0];
  const path = (issue?.path ?? []).filter((p): p is string | number => typeof p !== "symbol");
  return { path: [...prefix, ...path], message: issue?.message ?? "is invalid" };
}

/** Generic checks on every element: names, nulls, references, dates by suffix, extensions. */
function walk(
  value: unknown,
  path: Path,
  depth: number,
  opts: Options,
  inPrimitiveExt = false,
): Problem | undefined {
  if (depth > MAX_DEPTH) return { path, message: "is nested too deeply" };
  if (value === null) return inPrimitiveExt ? undefined : { path, message: "must not be null" };
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const p = walk(item, [...path, i], depth + 1, opts, inPrimitiveExt);
      if (p) return p;
    }
    return undefined;
  }
  if (!isObject(value)) return undefined;
  for (const [key, v] of Object.entries(value)) {
    if (key === "resourceType" || (key === "contained" && depth === 0)) continue;
    if (!ELEMENT_NAME_RE.test(key))
      return { path, message: "has an element whose name is not a valid FHIR element name" };
    const at = [...path, key];
    if (typeof v === "string") {
      if (key === "reference" && !REFERENCE_RES.some((re) => re.test(v))) {
        if (!CONDITIONAL_REFERENCE_RE.test(v))
          return { path: at, message: "must be Type/id, an absolute URL, urn:uuid:, urn:oid: or #id" };
        if (!opts.allowConditionalReferences)
          return { path: at, message: "is a conditional reference, allowed only in a transaction or batch" };
      }
      if (key.endsWith("DateTime") && !isDateTime(v)) return { path: at, message: "must be a FHIR dateTime" };
      if ((key.endsWith("Instant") || key === "lastUpdated") && !isInstant(v))
        return { path: at, message: "must be a FHIR instant" };
    }
    if (key.endsWith("Period") && isObject(v)) {
      const r = period.safeParse(v);
      if (!r.success) return fromZod(r.error, at);
    }
    const p = walk(v, at, depth + 1, opts, key.startsWith("_"));
    if (p) return p;
  }
  return undefined;
}

function findProblem(
  input: unknown,
  opts: Options,
  nested: boolean,
): { type: string; problem: Problem } | undefined {
  if (!isObject(input)) return { type: "Resource", problem: { path: [], message: "must be a JSON object" } };
  const type = input.resourceType;
  if (type === undefined)
    return { type: "Resource", problem: { path: ["resourceType"], message: "is required" } };
  if (!isSupportedType(type))
    return {
      type: "Resource",
      problem: { path: ["resourceType"], message: "is not a supported resource type" },
    };
  const parsed = schemaOf(type).safeParse(input);
  if (!parsed.success) return { type, problem: fromZod(parsed.error, []) };
  const choice = checkChoices(input, RESOURCE_ELEMENTS.get(type) ?? new Map(), []);
  if (choice) return { type, problem: choice };
  const contained = input.contained;
  if (Array.isArray(contained)) {
    if (nested && contained.length > 0)
      return {
        type,
        problem: { path: ["contained"], message: "must not contain resources in a contained resource" },
      };
    for (const [i, item] of contained.entries()) {
      const inner = findProblem(item, opts, true);
      if (inner)
        return {
          type,
          problem: { path: ["contained", i, ...inner.problem.path], message: inner.problem.message },
        };
    }
  }
  const generic = walk(input, [], 0, opts);
  return generic ? { type, problem: generic } : undefined;
}

function formatPath(root: string, path: Path): string {
  return path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : `${s}.${p}`), root);
}

function fail(expression: string, message: string): never {
  throw new BaseError("invalid", `${expression}: ${message}`, { expression });
}

/**
 * Validates untrusted JSON as a FHIR R4 resource of a supported type.
 * @param input - parsed JSON from outside
 * @param options - `allowConditionalReferences` for resources inside a transaction/batch Bundle
 * @returns the same object, typed
 * @throws BaseError("invalid") naming the path of the first problem (https://hl7.org/fhir/R4/json.html)
 */
export function validateResource(input: unknown, options: Options = {}): FhirResource {
  const found = findProblem(input, options, false);
  if (found) fail(formatPath(found.type, found.problem.path), found.problem.message);
  return input as FhirResource;
}

const bundleSchema = z.looseObject({
  resourceType: z.literal("Bundle", need("Bundle")),
  id: id.optional(),
  type: z.enum(BUNDLE_TYPES, need("one of transaction, batch, collection, searchset")),
  entry: z
    .array(
      z.looseObject(
        {
          fullUrl: uri.optional(),
          resource: object.optional(),
          request: z
            .looseObject(
              {
                method: z.enum(HTTP_VERBS, need("an HTTP verb")),
                url: uri,
                ifNoneExist: fhirString.optional(),
              },
              need("an object"),
            )
            .optional(),
        },
        need("an object"),
      ),
      need("an array"),
    )
    .optional(),
});

/**
 * Validates a Bundle of type transaction, batch, collection or searchset and every resource in it.
 * @param input - parsed JSON from outside
 * @returns the bundle typed, with `entry` always present
 * @throws BaseError("invalid") with an expression like `Bundle.entry[3].resource.code` (https://hl7.org/fhir/R4/bundle.html)
 */
export function validateBundle(input: unknown): FhirBundle {
  if (!isObject(input)) fail("Bundle", "must be a JSON object");
  const parsed = bundleSchema.safeParse(input);
  if (!parsed.success) {
    const p = fromZod(parsed.error, []);
    fail(formatPath("Bundle", p.path), p.message);
  }
  const bundle = input as unknown as FhirBundle;
  const transactional = bundle.type === "transaction" || bundle.type === "batch";
  const entries: BundleEntry[] = bundle.entry ?? [];
  for (const [i, entry] of entries.entries()) {
    const method = entry.request?.method;
    if (transactional && method === undefined)
      fail(`Bundle.entry[${i}].request`, "is required in a transaction or batch");
    const needsResource = !transactional || method === "POST" || method === "PUT";
    if (entry.resource === undefined) {
      if (needsResource) fail(`Bundle.entry[${i}].resource`, "is required");
      continue;
    }
    const found = findProblem(entry.resource, { allowConditionalReferences: transactional }, false);
    if (found) fail(formatPath(`Bundle.entry[${i}].resource`, found.problem.path), found.problem.message);
  }
  return { ...bundle, entry: entries };
}
