import { describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import { CohortIndex } from "./cohortIndex.js";
import { matches, profileOf } from "./cohortProfile.js";
import {
  LOINC,
  RXNORM,
  SNOMED,
  parseStudyDefinition,
  protocolHash,
  type Criterion,
} from "./studyDefinition.js";
import type { FhirResource } from "../records/fhirTypes.js";

const NOW = new Date("2026-12-07T00:00:00Z");
const DIABETES = "44054006";

function definition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: "Type 2 diabetes and HbA1c",
    criteria: [
      { kind: "condition", codes: [{ system: SNOMED, code: DIABETES }] },
      { kind: "age", min: 40, max: 75 },
    ],
    request: { categories: ["demographics", "conditions", "labs"] },
    release: { kind: "extract" },
    reward: 500,
    maxParticipants: 20,
    budget: 10_000,
    enrollment: { start: "2026-12-01T00:00:00Z", end: "2027-01-31T00:00:00Z" },
    minK: 3,
    epsilonBudget: 2,
    ...overrides,
  };
}

/** The error a bad definition gets, as the API would name it. */
function refusal(input: unknown): { message: string; expression: string | undefined } {
  try {
    parseStudyDefinition(input);
  } catch (err) {
    if (err instanceof BaseError) return { message: err.message, expression: err.expression };
    throw err;
  }
  throw new Error("accepted");
}

describe("study definitions", () => {
  it("accepts a well-formed definition and hashes it canonically (key order does not matter)", () => {
    const d = parseStudyDefinition(definition());
    const reordered = Object.fromEntries(Object.entries(definition()).reverse());
    expect(protocolHash(parseStudyDefinition(reordered))).toBe(protocolHash(d));
    expect(protocolHash(parseStudyDefinition(definition({ reward: 501, budget: 20_000 })))).not.toBe(
      protocolHash(d),
    );
  });

  it("refuses empty and unsatisfiable criteria, naming the rule", () => {
    expect(refusal(definition({ criteria: [] }))).toEqual({
      message: "the criteria are empty: a study names at least one criterion",
      expression: "criteria",
    });
    expect(refusal(definition({ criteria: [{ kind: "age", min: 80, max: 20 }] })).message).toBe(
      "the age criteria admit nobody (min is above max)",
    );
    expect(
      refusal(
        definition({
          criteria: [
            { kind: "age", min: 60 },
            { kind: "age", max: 50 },
          ],
        }),
      ).expression,
    ).toBe("criteria.age");
    expect(
      refusal(
        definition({
          criteria: [
            { kind: "sex", values: ["female"] },
            { kind: "sex", values: ["male"] },
          ],
        }),
      ).message,
    ).toBe("the sex criteria admit nobody");
    // HbA1c above 9 % and below 64 mmol/mol... in commensurable units: 7 % is 53 mmol/mol-ish, not
    // convertible by UCUM; glucose in mg/dL and mmol/L is (with a molecular weight): use mass units
    expect(
      refusal(
        definition({
          criteria: [
            { kind: "observation", code: "2339-0", comparator: ">", value: 2, unit: "g/L" },
            { kind: "observation", code: "2339-0", comparator: "<", value: 150, unit: "mg/dL" },
          ],
        }),
      ).message,
    ).toBe("the thresholds on one observation admit no value");
    expect(refusal(definition({ criteria: [{ kind: "age" }] })).message).toBe(
      "an age criterion needs min or max",
    );
  });

  it("refuses bad units, bad codes, budgets below reward × participants and inverted windows", () => {
    expect(
      refusal(
        definition({
          criteria: [
            { kind: "observation", code: "2339-0", comparator: ">", value: 2, unit: "furlongs/fortnight" },
          ],
        }),
      ),
    ).toEqual({ message: "the unit is not a UCUM unit", expression: "criteria.0.unit" });
    expect(
      refusal(
        definition({
          criteria: [
            { kind: "observation", code: "2339-0", comparator: ">", value: 2, unit: "g/L" },
            { kind: "observation", code: "2339-0", comparator: "<", value: 2, unit: "kg" },
          ],
        }),
      ).message,
    ).toBe("thresholds on one observation must be in commensurable units");
    expect(
      refusal(definition({ criteria: [{ kind: "condition", codes: [{ system: SNOMED, code: "x y" }] }] }))
        .expression,
    ).toBe("criteria.0.codes.0.code");
    expect(
      refusal(
        definition({
          criteria: [{ kind: "condition", codes: [{ system: "http://example.org", code: "1" }] }],
        }),
      ).expression,
    ).toBe("criteria.0.codes.0.system");
    expect(refusal(definition({ budget: 9_999 }))).toEqual({
      message: "the budget is below reward × maxParticipants",
      expression: "budget",
    });
    expect(
      refusal(definition({ enrollment: { start: "2027-01-01T00:00:00Z", end: "2026-01-01T00:00:00Z" } }))
        .message,
    ).toBe("the enrollment window ends before it starts");
    expect(refusal(definition({ minK: 1 })).expression).toBe("minK");
    expect(refusal(definition({ release: { kind: "aggregate", statistic: "mean" } })).expression).toBe(
      "release.measure",
    );
    expect(refusal(definition({ request: { categories: ["labs"] } })).expression).toBe("request.categories");
    expect(refusal({ ...definition(), extra: 1 }).expression).toBe("");
  });

  it("never puts a value in an error message", () => {
    const { message } = refusal(definition({ criteria: [{ kind: "age", min: 87, max: 23 }] }));
    expect(message).not.toMatch(/87|23/);
  });
});

function patient(id: number, birthDate: string, gender: string, extra: FhirResource[]): FhirResource[] {
  return [{ resourceType: "Patient", id: `p${id}`, birthDate, gender }, ...extra];
}
const condition = (code: string, system = SNOMED): FhirResource => ({
  resourceType: "Condition",
  code: { coding: [{ system, code }] },
});
const glucose = (value: number, unit: string, date: string): FhirResource => ({
  resourceType: "Observation",
  status: "final",
  code: { coding: [{ system: LOINC, code: "2339-0" }] },
  effectiveDateTime: date,
  valueQuantity: { value, unit, system: "http://unitsofmeasure.org", code: unit },
});
const metformin: FhirResource = {
  resourceType: "MedicationRequest",
  status: "active",
  medicationCodeableConcept: { coding: [{ system: RXNORM, code: "860975" }] },
};

describe("criteria over records", () => {
  const records = [
    patient(1, "1970-03-05", "female", [condition(DIABETES), glucose(8, "mmol/L", "2026-01-01"), metformin]),
    patient(2, "1990-06-01", "male", [condition(DIABETES), glucose(180, "mg/dL", "2026-01-01")]),
    patient(3, "1950-01-01", "female", [
      condition("38341003"),
      glucose(1.9, "g/L", "2026-06-01"),
      glucose(1.2, "g/L", "2026-07-01"),
    ]),
    patient(4, "1960-12-31", "male", [condition("E11.9", "http://hl7.org/fhir/sid/icd-10-cm")]),
    patient(5, "1985-12-08", "female", []),
  ];
  const criteriaCases: [string, Criterion[], string[]][] = [
    [
      "a SNOMED condition",
      [{ kind: "condition", codes: [{ system: SNOMED, code: DIABETES }] }],
      ["p1", "p2"],
    ],
    [
      "an ICD-10 condition or SNOMED",
      [
        {
          kind: "condition",
          codes: [
            { system: "http://hl7.org/fhir/sid/icd-10-cm", code: "E11.9" },
            { system: SNOMED, code: "38341003" },
          ],
        },
      ],
      ["p3", "p4"],
    ],
    // p5, born 1985-12-08, is 40 on 2026-12-07 and turns 41 the next day
    ["age 40 to 60", [{ kind: "age", min: 40, max: 60 }], ["p1", "p5"]],
    ["age 41 excludes a birthday tomorrow", [{ kind: "age", min: 41, max: 41 }], []],
    ["sex", [{ kind: "sex", values: ["male"] }], ["p2", "p4"]],
    // glucose above 1.5 g/L: p2's 180 mg/dL (1.8 g/L); p3's latest is 1.2 g/L; p1's 8 mmol/L is a
    // substance amount, not commensurable with a mass without a molecular weight: not counted
    [
      "latest glucose above 1.5 g/L across units",
      [{ kind: "observation", code: "2339-0", comparator: ">", value: 1.5, unit: "g/L", which: "latest" }],
      ["p2"],
    ],
    [
      "any glucose above 1.5 g/L",
      [{ kind: "observation", code: "2339-0", comparator: ">", value: 1.5, unit: "g/L", which: "any" }],
      ["p2", "p3"],
    ],
    ["a medication class", [{ kind: "medication", rxnorm: ["860975", "861007"] }], ["p1"]],
    [
      "everything at once",
      [
        { kind: "condition", codes: [{ system: SNOMED, code: DIABETES }] },
        { kind: "sex", values: ["female"] },
        { kind: "medication", rxnorm: ["860975"] },
        { kind: "observation", code: "2339-0", comparator: ">=", value: 7, unit: "mmol/L", which: "latest" },
      ],
      ["p1"],
    ],
  ];

  it.each(criteriaCases)(
    "%s: the index and the record scan agree on who matches",
    (_, criteria, expected) => {
      const index = new CohortIndex();
      records.forEach((r, i) => index.set(`p${i + 1}`, profileOf(r)));
      const naive = records.filter((r) => matches(criteria, profileOf(r), NOW)).map((r) => String(r[0]!.id));
      expect(naive.sort()).toEqual(expected);
      expect(index.match(criteria, NOW).sort()).toEqual(expected);
    },
  );

  it("forgets a removed patient and sees a changed one", () => {
    const index = new CohortIndex();
    records.forEach((r, i) => index.set(`p${i + 1}`, profileOf(r)));
    const c: Criterion[] = [{ kind: "condition", codes: [{ system: SNOMED, code: DIABETES }] }];
    index.delete("p1");
    expect(index.match(c, NOW)).toEqual(["p2"]);
    index.set("p5", profileOf([...records[4]!, condition(DIABETES)]));
    expect(index.match(c, NOW).sort()).toEqual(["p2", "p5"]);
  });
});
