import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import { validateBundle, validateResource } from "./validateResource.js";

const FIXTURES = new URL("../../test/fixtures/synthea/", import.meta.url);
const bundles = readdirSync(FIXTURES).map(
  (f) => JSON.parse(readFileSync(new URL(f, FIXTURES), "utf8")) as { entry: unknown[] },
);

const observation = () => ({
  resourceType: "Observation",
  id: "obs-1",
  status: "final",
  code: { coding: [{ system: "http://loinc.org", code: "8867-4" }] },
  subject: { reference: "Patient/p1" },
  effectiveDateTime: "2020-03-01T10:00:00Z",
  valueQuantity: { value: 72, unit: "/min" },
});

function errorOf(input: unknown, options?: { allowConditionalReferences?: boolean }): BaseError {
  try {
    validateResource(input, options);
  } catch (e) {
    if (e instanceof BaseError) return e;
    throw e;
  }
  throw new Error("expected validation to fail");
}

describe("validateResource", () => {
  it("accepts every resource of the Synthea fixtures", () => {
    expect(bundles.map((b) => validateBundle(b).entry.length)).toEqual(bundles.map((b) => b.entry.length));
    expect(bundles).toHaveLength(11);
  });

  it("returns the resource typed", () => {
    expect(validateResource(observation()).resourceType).toBe("Observation");
  });

  it.each([
    ["not an object", [], "Resource: must be a JSON object"],
    [
      "unknown type",
      { resourceType: "Spaceship" },
      "Resource.resourceType: is not a supported resource type",
    ],
    [
      "bad id",
      { ...observation(), id: "has space" },
      "Observation.id: must be a FHIR id (1-64 of A-Z a-z 0-9 - .)",
    ],
    ["missing status", { ...observation(), status: undefined }, "Observation.status: is required"],
    ["missing code", { ...observation(), code: undefined }, "Observation.code: is required"],
    [
      "coding code not a string",
      { ...observation(), code: { coding: [{ code: 5 }] } },
      "Observation.code.coding[0].code: must be a string",
    ],
    [
      "bad dateTime",
      { ...observation(), effectiveDateTime: "2020-13-01" },
      "Observation.effectiveDateTime: must be a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or full with zone)",
    ],
    [
      "30 February",
      { ...observation(), effectiveDateTime: "2021-02-30" },
      "Observation.effectiveDateTime: must be a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or full with zone)",
    ],
    [
      "two effective types",
      { ...observation(), effectivePeriod: { start: "2020" } },
      "Observation.effective[x]: must have only one type",
    ],
    [
      "disallowed choice type",
      { ...observation(), valueQuantity: undefined, valueHumanName: {} },
      "Observation.value[x]: has a type that is not allowed here",
    ],
    [
      "bad reference",
      { ...observation(), subject: { reference: "not a ref" } },
      "Observation.subject.reference: must be Type/id, an absolute URL, urn:uuid:, urn:oid: or #id",
    ],
    [
      "conditional reference",
      { ...observation(), subject: { reference: "Patient?identifier=x|1" } },
      "Observation.subject.reference: is a conditional reference, allowed only in a transaction or batch",
    ],
    [
      "bad element name",
      { ...observation(), "Bad-Name": 1 },
      "Observation: has an element whose name is not a valid FHIR element name",
    ],
    ["null", { ...observation(), issued: null }, "Observation.issued: must not be null"],
    [
      "extension without url",
      { ...observation(), extension: [{ valueString: "x" }] },
      "Observation.extension[0].url: is required",
    ],
    [
      "Condition without subject",
      { resourceType: "Condition", code: { text: "x" } },
      "Condition.subject: is required",
    ],
    [
      "MedicationRequest without medication",
      {
        resourceType: "MedicationRequest",
        status: "active",
        intent: "order",
        subject: { reference: "Patient/p" },
      },
      "MedicationRequest.medication[x]: is required",
    ],
    [
      "Encounter without class",
      { resourceType: "Encounter", status: "finished" },
      "Encounter.class: is required",
    ],
    [
      "Immunization without occurrence",
      {
        resourceType: "Immunization",
        status: "completed",
        vaccineCode: { text: "x" },
        patient: { reference: "Patient/p" },
      },
      "Immunization.occurrence[x]: is required",
    ],
    [
      "component without code",
      { ...observation(), component: [{ valueQuantity: { value: 1 } }] },
      "Observation.component[0].code: is required",
    ],
    [
      "bad contained",
      { ...observation(), contained: [{ resourceType: "Coverage", id: "c" }] },
      "Observation.contained[0].status: is required",
    ],
    [
      "nested unknown key",
      { ...observation(), note: [{ text: "x", "9bad": 1 }] },
      "Observation.note[0]: has an element whose name is not a valid FHIR element name",
    ],
  ])("rejects %s", (_name, input, message) => {
    const error = errorOf(input);
    expect(error.kind).toBe("invalid");
    expect(error.message).toBe(message);
    expect(error.expression).toBe(message.split(":")[0]);
  });

  it("allows extensions, primitive extensions and unknown lowerCamel elements", () => {
    const r = {
      ...observation(),
      extension: [{ url: "http://x", valueString: "y" }],
      _status: { id: "s" },
      futureElement: { a: 1 },
    };
    expect(validateResource(r).id).toBe("obs-1");
  });

  it("allows conditional references only when asked", () => {
    const r = {
      ...observation(),
      performer: [{ reference: "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|999" }],
    };
    expect(validateResource(r, { allowConditionalReferences: true }).id).toBe("obs-1");
    expect(errorOf(r).expression).toBe("Observation.performer[0].reference");
  });

  it("never puts a string value of the input in the message", () => {
    const secret = "Jane  Doe 1970-01-01 ";
    const bad = [
      { ...observation(), status: secret },
      { ...observation(), effectiveDateTime: secret },
      { ...observation(), subject: { reference: secret } },
      { ...observation(), [secret]: 1 },
      { ...observation(), id: secret },
      { ...observation(), code: { coding: [{ system: secret }] } },
    ];
    for (const input of bad) expect(errorOf(input).message).not.toContain("Jane");
  });
});

/** JSON whose every string value carries a marker that no message contains. */
const markedJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string().map((s) => `~${s}~`),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(
        fc.constantFrom(
          "status",
          "code",
          "subject",
          "reference",
          "coding",
          "system",
          "effectiveDateTime",
          "valueString",
          "extension",
          "url",
          "id",
          "contained",
          "resourceType",
        ),
        fc.string(),
      ),
      tie("value"),
      { maxKeys: 5 },
    ),
  ),
})).value;

describe("validateResource (property)", () => {
  it("throws only BaseError('invalid') on random JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (input) => {
        try {
          validateResource(input);
        } catch (e) {
          return e instanceof BaseError && e.kind === "invalid";
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it("never includes input string values in the message, for any supported type", () => {
    const resource = fc.tuple(
      fc.constantFrom("Observation", "Condition", "Patient", "Immunization", "Claim", "Encounter"),
      fc.dictionary(fc.string(), markedJson, { maxKeys: 6 }),
    );
    fc.assert(
      fc.property(resource, ([resourceType, body]) => {
        try {
          validateResource({ ...body, resourceType });
        } catch (e) {
          if (!(e instanceof BaseError) || e.kind !== "invalid") return false;
          return !e.message.includes("~") && !(e.expression ?? "").includes("~");
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it("mutating one string of a valid Synthea resource either passes or fails without echoing it", () => {
    const resources = (bundles[0] as { entry: { resource: unknown }[] }).entry
      .map((e) => e.resource)
      .slice(0, 40);
    fc.assert(
      fc.property(
        fc.constantFrom(...resources),
        fc.nat(),
        fc.string({ minLength: 1 }),
        (resource, pick, junk) => {
          const copy = structuredClone(resource) as Record<string, unknown>;
          const holders: [Record<string, unknown>, string][] = [];
          const visit = (node: unknown): void => {
            if (Array.isArray(node)) node.forEach(visit);
            else if (typeof node === "object" && node !== null)
              for (const [k, v] of Object.entries(node)) {
                if (typeof v === "string" && k !== "resourceType")
                  holders.push([node as Record<string, unknown>, k]);
                else visit(v);
              }
          };
          visit(copy);
          const [holder, key] = holders[pick % holders.length] ?? [copy, "id"];
          holder[key] = `~${junk}~`;
          try {
            validateResource(copy);
          } catch (e) {
            return e instanceof BaseError && e.kind === "invalid" && !e.message.includes("~");
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("validateBundle", () => {
  it("rejects an unsupported bundle type and names the entry path of a bad resource", () => {
    expect(() => validateBundle({ resourceType: "Bundle", type: "history", entry: [] })).toThrow(
      "Bundle.type: must be one of transaction, batch, collection, searchset",
    );
    const bundle = {
      resourceType: "Bundle",
      type: "collection",
      entry: [{ resource: { ...observation(), status: 3 } }],
    };
    expect(() => validateBundle(bundle)).toThrow("Bundle.entry[0].resource.status: must be a string");
  });

  it("requires a request in a transaction and allows conditional references there", () => {
    const resource = { ...observation(), performer: [{ reference: "Organization?identifier=s|v" }] };
    expect(() =>
      validateBundle({ resourceType: "Bundle", type: "transaction", entry: [{ resource }] }),
    ).toThrow("Bundle.entry[0].request: is required in a transaction or batch");
    const ok = validateBundle({
      resourceType: "Bundle",
      type: "transaction",
      entry: [{ resource, request: { method: "POST", url: "Observation" } }],
    });
    expect(ok.entry).toHaveLength(1);
    expect(validateBundle({ resourceType: "Bundle", type: "searchset" }).entry).toEqual([]);
  });
});
