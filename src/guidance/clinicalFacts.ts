/**
 * The clinical facts guidance reasons over, read from the FHIR resources a caller may see (a
 * `$everything` Bundle, local or federated) and nothing else: what the caller could not read never
 * reaches a rule, so no summary line or card can imply it. The same medication, immunization,
 * problem or allergy recorded at two organizations becomes one fact with both sources; each
 * observation stays its own fact (trends need every value).
 */
import type { CodeableConcept, Coding, FhirResource } from "../records/fhirTypes.js";

export const LOINC = "http://loinc.org";
export const SNOMED = "http://snomed.info/sct";
export const RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
export const CVX = "http://hl7.org/fhir/sid/cvx";

/** A code from a known system, with what a person reads. */
export interface Code {
  system: string;
  code: string;
  display: string;
}

/** A fact with the organizations that recorded it (`meta.source` of each resource) and the resources. */
export interface Sourced {
  /** Organization sources, e.g. `urn:carechain:organization:0x…`; empty when the resource named none. */
  sources: string[];
  /** The resources behind the fact (one per organization that recorded it). */
  resources: FhirResource[];
}

export interface ProblemFact extends Sourced {
  code: Code;
  onset?: string;
}

export interface MedicationFact extends Sourced {
  code: Code;
  /** RxNorm code, when the medication carries one. */
  rxnorm?: string;
  authoredOn?: string;
}

export interface AllergyFact extends Sourced {
  code: Code;
  categories: string[];
  criticality?: string;
}

export interface ImmunizationFact extends Sourced {
  code: Code;
  /** CVX code, when the vaccine carries one. */
  cvx?: string;
  /** Day the dose was given (YYYY-MM-DD). */
  date: string;
}

export interface ObservationFact extends Sourced {
  code: Code;
  loinc?: string;
  /** Effective time (ISO 8601). */
  date: string;
  value?: number;
  unit?: string;
  /** Numeric components (blood pressure panels): LOINC code -> value. */
  components: { loinc: string; display: string; value: number; unit?: string }[];
}

export interface ProcedureFact extends Sourced {
  code: Code;
  date: string;
}

export interface EncounterFact extends Sourced {
  code: Code;
  start: string;
  end?: string;
}

export interface CareTeamMember {
  name: string;
  role?: string;
  sources: string[];
}

export interface PatientFacts {
  birthDate?: string;
  gender?: string;
  /** True when the Patient resource records a death. */
  deceased?: boolean;
  resource?: FhirResource;
}

export interface ClinicalFacts {
  patient: PatientFacts;
  problems: ProblemFact[];
  medications: MedicationFact[];
  allergies: AllergyFact[];
  immunizations: ImmunizationFact[];
  /** Newest first. */
  observations: ObservationFact[];
  procedures: ProcedureFact[];
  encounters: EncounterFact[];
  careTeam: CareTeamMember[];
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const concept = (v: unknown): CodeableConcept | undefined =>
  typeof v === "object" && v !== null ? (v as CodeableConcept) : undefined;

/** The first coding of `cc` (preferring `system`), as a Code; the text alone when no coding has a code. */
export function codeOf(cc: CodeableConcept | undefined, preferred?: string): Code | undefined {
  const codings = (cc?.coding ?? []).filter((c): c is Coding & { code: string } => str(c.code) !== undefined);
  const pick = codings.find((c) => c.system === preferred) ?? codings[0];
  if (pick !== undefined) {
    return {
      system: pick.system ?? "",
      code: pick.code,
      display: str(pick.display) ?? str(cc?.text) ?? pick.code,
    };
  }
  const text = str(cc?.text);
  return text === undefined ? undefined : { system: "", code: text, display: text };
}

/** The code of `system` in `cc`, if any. */
export function codeIn(cc: CodeableConcept | undefined, system: string): string | undefined {
  return cc?.coding?.find((c) => c.system === system && str(c.code) !== undefined)?.code;
}

/** The organization source a resource carries (`meta.source`), if any. */
export function sourceOfResource(resource: FhirResource): string | undefined {
  const meta = resource.meta as { source?: unknown } | undefined;
  return str(meta?.source);
}

/** The resources of a Bundle's entries (search mode `match` or none), skipping OperationOutcomes. */
export function bundleResources(bundle: FhirResource): FhirResource[] {
  const entries =
    (bundle.entry as { resource?: FhirResource; search?: { mode?: string } }[] | undefined) ?? [];
  return entries
    .filter((e) => e.resource !== undefined && e.search?.mode !== "outcome")
    .map((e) => e.resource as FhirResource)
    .filter((r) => r.resourceType !== "OperationOutcome");
}

/** Merges facts with the same key: one fact, every source and resource kept. */
class Merger<T extends Sourced> {
  readonly #byKey = new Map<string, T>();

  add(key: string, fact: T): void {
    const seen = this.#byKey.get(key);
    if (seen === undefined) {
      this.#byKey.set(key, fact);
      return;
    }
    for (const s of fact.sources) if (!seen.sources.includes(s)) seen.sources.push(s);
    seen.resources.push(...fact.resources);
  }

  values(): T[] {
    return [...this.#byKey.values()];
  }
}

const day = (iso: string | undefined): string | undefined => iso?.slice(0, 10);

/** True for a MedicationRequest/Statement that is current (active or on-hold, not ended). */
function isCurrentMedication(r: FhirResource): boolean {
  const status = str(r.status);
  return (
    status === "active" ||
    status === "on-hold" ||
    (r.resourceType === "MedicationStatement" && status === "intended")
  );
}

/** True for a Condition that is active, recurring or relapsed (or states no clinical status). */
function isActiveProblem(r: FhirResource): boolean {
  const clinical = codeOf(concept(r.clinicalStatus))?.code;
  const verification = codeOf(concept(r.verificationStatus))?.code;
  if (verification === "entered-in-error" || verification === "refuted") return false;
  return (
    clinical === undefined || clinical === "active" || clinical === "recurrence" || clinical === "relapse"
  );
}

/**
 * Reads the clinical facts out of the resources a caller may see.
 * @param resources - The resources (e.g. {@link bundleResources} of `$everything`), each with its `meta.source`.
 * @returns Facts: problems, current medications, allergies and immunizations merged across sources.
 */
export function clinicalFacts(resources: readonly FhirResource[]): ClinicalFacts {
  const patient: PatientFacts = {};
  const problems = new Merger<ProblemFact>();
  const medications = new Merger<MedicationFact>();
  const allergies = new Merger<AllergyFact>();
  const immunizations = new Merger<ImmunizationFact>();
  const observations: ObservationFact[] = [];
  const procedures: ProcedureFact[] = [];
  const encounters: EncounterFact[] = [];
  const team = new Map<string, CareTeamMember>();

  for (const r of resources) {
    const source = sourceOfResource(r);
    const base = { sources: source === undefined ? [] : [source], resources: [r] };
    switch (r.resourceType) {
      case "Patient": {
        const birthDate = str(r.birthDate);
        const gender = str(r.gender);
        if (birthDate !== undefined) patient.birthDate = birthDate;
        if (gender !== undefined) patient.gender = gender;
        if (r.deceasedBoolean === true || str(r.deceasedDateTime) !== undefined) patient.deceased = true;
        patient.resource ??= r;
        break;
      }
      case "Condition": {
        const code = codeOf(concept(r.code), SNOMED);
        if (code === undefined || !isActiveProblem(r)) break;
        const onset = str(r.onsetDateTime);
        problems.add(`${code.system}|${code.code}`, { ...base, code, ...(onset ? { onset } : {}) });
        break;
      }
      case "MedicationRequest":
      case "MedicationStatement": {
        const med = concept(r.medicationCodeableConcept);
        const code = codeOf(med, RXNORM);
        if (code === undefined || !isCurrentMedication(r)) break;
        const rxnorm = codeIn(med, RXNORM);
        const authoredOn = str(r.authoredOn) ?? str(r.effectiveDateTime);
        medications.add(`${code.system}|${code.code}`, {
          ...base,
          code,
          ...(rxnorm ? { rxnorm } : {}),
          ...(authoredOn ? { authoredOn } : {}),
        });
        break;
      }
      case "AllergyIntolerance": {
        const code = codeOf(concept(r.code), SNOMED);
        const clinical = codeOf(concept(r.clinicalStatus))?.code;
        if (code === undefined || (clinical !== undefined && clinical !== "active")) break;
        const categories = Array.isArray(r.category)
          ? r.category.filter((c): c is string => typeof c === "string")
          : [];
        const criticality = str(r.criticality);
        allergies.add(`${code.system}|${code.code}`, {
          ...base,
          code,
          categories,
          ...(criticality ? { criticality } : {}),
        });
        break;
      }
      case "Immunization": {
        const vaccine = concept(r.vaccineCode);
        const code = codeOf(vaccine, CVX);
        const date = day(str(r.occurrenceDateTime));
        if (code === undefined || date === undefined || str(r.status) === "entered-in-error") break;
        if (str(r.status) === "not-done") break;
        const cvx = codeIn(vaccine, CVX);
        immunizations.add(`${code.system}|${code.code}|${date}`, {
          ...base,
          code,
          date,
          ...(cvx ? { cvx } : {}),
        });
        break;
      }
      case "Observation": {
        const cc = concept(r.code);
        const code = codeOf(cc, LOINC);
        const date =
          str(r.effectiveDateTime) ?? str((r.effectivePeriod as { start?: unknown } | undefined)?.start);
        if (code === undefined || date === undefined) break;
        if (str(r.status) === "entered-in-error" || str(r.status) === "cancelled") break;
        const quantity = r.valueQuantity as { value?: unknown; unit?: unknown; code?: unknown } | undefined;
        const value = num(quantity?.value);
        const unit = str(quantity?.unit) ?? str(quantity?.code);
        const loinc = codeIn(cc, LOINC);
        const components = (
          (r.component as
            { code?: CodeableConcept; valueQuantity?: { value?: unknown; unit?: unknown } }[] | undefined) ??
          []
        )
          .map((c) => {
            const cl = codeIn(c.code, LOINC);
            const cv = num(c.valueQuantity?.value);
            if (cl === undefined || cv === undefined) return undefined;
            const cu = str(c.valueQuantity?.unit);
            return {
              loinc: cl,
              display: codeOf(c.code, LOINC)?.display ?? cl,
              value: cv,
              ...(cu ? { unit: cu } : {}),
            };
          })
          .filter((c) => c !== undefined);
        observations.push({
          ...base,
          code,
          date,
          components,
          ...(loinc ? { loinc } : {}),
          ...(value !== undefined ? { value } : {}),
          ...(unit ? { unit } : {}),
        });
        break;
      }
      case "Procedure": {
        const code = codeOf(concept(r.code), SNOMED);
        const date =
          str(r.performedDateTime) ?? str((r.performedPeriod as { start?: unknown } | undefined)?.start);
        if (code === undefined || date === undefined || str(r.status) === "entered-in-error") break;
        procedures.push({ ...base, code, date });
        break;
      }
      case "Encounter": {
        const type = Array.isArray(r.type) ? concept(r.type[0]) : undefined;
        const code = codeOf(type, SNOMED);
        const period = r.period as { start?: unknown; end?: unknown } | undefined;
        const start = str(period?.start);
        if (code === undefined || start === undefined) break;
        const end = str(period?.end);
        encounters.push({ ...base, code, start, ...(end ? { end } : {}) });
        break;
      }
      case "Practitioner": {
        const name = personName(r);
        if (name === undefined) break;
        const member = team.get(name) ?? { name, sources: [] };
        if (source !== undefined && !member.sources.includes(source)) member.sources.push(source);
        team.set(name, member);
        break;
      }
      default:
        break;
    }
  }
  const newestFirst = <T extends { date: string }>(a: T, b: T) =>
    a.date < b.date ? 1 : a.date > b.date ? -1 : 0;
  return {
    patient,
    problems: problems.values(),
    medications: medications.values(),
    allergies: allergies.values(),
    immunizations: immunizations.values().sort(newestFirst),
    observations: observations.sort(newestFirst),
    procedures: procedures.sort(newestFirst),
    encounters: encounters.sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0)),
    careTeam: [...team.values()],
  };
}

/** "Given Family" of a Practitioner or Patient's first name. */
function personName(r: FhirResource): string | undefined {
  const names = r.name as { given?: unknown[]; family?: unknown; prefix?: unknown[] }[] | undefined;
  const n = names?.[0];
  if (n === undefined) return undefined;
  const parts = [...(n.prefix ?? []), ...(n.given ?? []), n.family].filter(
    (p): p is string => typeof p === "string",
  );
  return parts.length > 0 ? parts.join(" ") : undefined;
}

/**
 * Age in whole years on `at`.
 * @param birthDate - YYYY-MM-DD (or a prefix; missing parts count as the first).
 * @param at - The day to compute the age on.
 */
export function ageOn(birthDate: string, at: Date): number {
  const [y, m = 1, d = 1] = birthDate.split("-").map(Number) as [number, number?, number?];
  let age = at.getUTCFullYear() - y;
  const month = at.getUTCMonth() + 1;
  if (month < m || (month === m && at.getUTCDate() < d)) age -= 1;
  return age;
}

/** Whole years between two ISO dates (b - a), fractional. */
export function yearsBetween(a: string, b: Date): number {
  return (b.getTime() - Date.parse(a)) / (365.25 * 24 * 3600 * 1000);
}
