import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import type { FhirResource } from "../records/fhirTypes.js";
import {
  dateShiftDays,
  deidentify,
  pseudonym,
  shiftDate,
  smallestGroup,
  type StudySecret,
} from "./deidentify.js";

const dir = join(import.meta.dirname, "..", "..", "test", "fixtures", "synthea");
const bundles = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((f) =>
    (JSON.parse(readFileSync(join(dir, f), "utf8")) as { entry: { resource: FhirResource }[] }).entry.map(
      (e) => e.resource,
    ),
  );
const NOW = new Date("2026-12-07T00:00:00Z");
const ageOn = (birthDate: string, at: Date) => {
  const b = new Date(`${birthDate}T00:00:00Z`);
  const years = at.getUTCFullYear() - b.getUTCFullYear();
  const before =
    at.getUTCMonth() < b.getUTCMonth() ||
    (at.getUTCMonth() === b.getUTCMonth() && at.getUTCDate() < b.getUTCDate());
  return before ? years - 1 : years;
};
const study = (label: string): StudySecret => ({ key: new TextEncoder().encode(`study-secret-${label}`) });

/** Every string in the source records that identifies a person, a place or a record. */
function identifiersOf(resources: FhirResource[]): Set<string> {
  const found = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === "string" && v.length >= 4) found.add(v.toLowerCase());
  };
  for (const r of resources) {
    add(r.id);
    for (const i of (r.identifier as { value?: string }[] | undefined) ?? []) add(i.value);
    for (const t of (r.telecom as { value?: string }[] | undefined) ?? []) add(t.value);
    for (const n of (r.name as { given?: string[]; family?: string }[] | undefined) ?? []) {
      add(n.family);
      for (const g of n.given ?? []) add(g);
    }
    if (r.resourceType === "Organization" || r.resourceType === "Location") add(r.name);
    for (const a of (r.address as { line?: string[]; city?: string; postalCode?: string }[] | undefined) ??
      []) {
      for (const l of a.line ?? []) add(l);
      add(a.city);
      add(a.postalCode);
    }
    if (r.resourceType === "Patient") add(r.birthDate);
    add(r.deceasedDateTime);
  }
  return found;
}

describe("Safe Harbor extracts", () => {
  const account = privateKeyToAccount(generatePrivateKey()).address;

  it("leaves no direct identifier of any Synthea patient in the extract", () => {
    for (const resources of bundles) {
      const patient = resources.find((r) => r.resourceType === "Patient")!;
      const age = ageOn(String(patient.birthDate), NOW);
      const released = resources
        .map((r) => deidentify(study("a"), { account, age }, r))
        .filter((r) => r !== undefined);
      expect(released.length).toBeGreaterThan(0);
      const text = JSON.stringify(released).toLowerCase();
      for (const id of identifiersOf(resources)) expect(text.includes(id), id).toBe(false);
      expect(text).not.toContain('"text"');
      expect(text).not.toContain('"note"');
      // no date of the source survives unshifted (every date-time moved by the same non-zero offset)
      if (dateShiftDays(study("a"), account) !== 0)
        for (const r of resources.filter((x) => typeof x.effectiveDateTime === "string"))
          expect(text).not.toContain(String(r.effectiveDateTime).toLowerCase());
    }
  });

  it("shifts all of a patient's dates by one offset, so intervals stay true", () => {
    const days = dateShiftDays(study("a"), account);
    expect(Math.abs(days)).toBeLessThanOrEqual(182);
    const a = shiftDate("2020-01-10T08:00:00Z", days)!;
    const b = shiftDate("2020-03-01T08:00:00Z", days)!;
    expect(Date.parse(b) - Date.parse(a)).toBe(
      Date.parse("2020-03-01T08:00:00Z") - Date.parse("2020-01-10T08:00:00Z"),
    );
    expect(shiftDate("1999", days)).toBe("1999");
  });

  it("gives unlinkable pseudonyms and ids in two studies", () => {
    const [resources] = bundles;
    const patient = resources!.find((r) => r.resourceType === "Patient")!;
    expect(pseudonym(study("a"), account)).not.toBe(pseudonym(study("b"), account));
    const observation = resources!.find((r) => r.resourceType === "Observation")!;
    const one = deidentify(study("a"), { account, age: 40 }, observation);
    const two = deidentify(study("b"), { account, age: 40 }, observation);
    expect(one?.id).toBeDefined();
    expect(one?.id).not.toBe(two?.id);
    expect(deidentify(study("a"), { account, age: 40 }, patient)?.id).toBe(pseudonym(study("a"), account));
  });

  it("groups ages over 89 and cuts ZIP codes to three digits (000 for small areas)", () => {
    const old = deidentify(
      study("a"),
      { account, age: 94 },
      {
        resourceType: "Patient",
        id: "x",
        birthDate: "1932-06-09",
        gender: "male",
        address: [{ state: "MA", postalCode: "03601" }],
      },
    )!;
    expect(old.birthDate).toBeUndefined();
    expect(JSON.stringify(old)).toContain("90+");
    expect((old.address as { postalCode: string }[])[0]!.postalCode).toBe("000");
    const young = deidentify(
      study("a"),
      { account, age: 89 },
      {
        resourceType: "Patient",
        id: "y",
        birthDate: "1937-06-09",
        address: [{ state: "MA", postalCode: "02139-1234" }],
      },
    )!;
    expect(young.birthDate).toMatch(/^193[67]$/);
    expect((young.address as { postalCode: string }[])[0]!.postalCode).toBe("021");
  });

  it("measures k over gender, 5-year birth band, state and ZIP3", () => {
    const p = (gender: string, year: string, zip: string): FhirResource => ({
      resourceType: "Patient",
      gender,
      birthDate: year,
      address: [{ state: "MA", postalCode: zip }],
    });
    expect(smallestGroup([])).toBe(0);
    expect(
      smallestGroup([p("female", "1980", "021"), p("female", "1983", "021"), p("female", "1981", "021")]),
    ).toBe(3);
    expect(
      smallestGroup([p("female", "1980", "021"), p("female", "1983", "021"), p("male", "1981", "021")]),
    ).toBe(1);
  });
});
