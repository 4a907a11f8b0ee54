/**
 * The elements validateResource checks for each supported type, from the FHIR R4 resource
 * definitions (https://hl7.org/fhir/R4/resourcelist.html), in a compact notation:
 * `name:Type` (0..1), `name:Type[]` (0..*), a trailing `!` when required (1..1 or 1..*),
 * `name[x]:A|B` for choice elements, and `name:Backbone[]` for the nested parts in BACKBONES.
 * Elements not listed are still checked generically (names, references, codings, dates).
 */
import type { SupportedType } from "./fhirTypes.js";

const ONSET = "DateTime|Age|Period|Range|String";

const SPECS: Record<SupportedType, string> = {
  Patient:
    "active:boolean name:object[] telecom:object[] gender:code birthDate:date address:object[] " +
    "maritalStatus:CodeableConcept communication:object[] generalPractitioner:Reference[] " +
    "managingOrganization:Reference deceased[x]:Boolean|DateTime multipleBirth[x]:Boolean|Integer",
  Encounter:
    "status:code! class:Coding! type:CodeableConcept[] serviceType:CodeableConcept priority:CodeableConcept " +
    "subject:Reference participant:object[] period:Period reasonCode:CodeableConcept[] reasonReference:Reference[] " +
    "serviceProvider:Reference partOf:Reference episodeOfCare:Reference[] basedOn:Reference[]",
  Condition:
    "clinicalStatus:CodeableConcept verificationStatus:CodeableConcept category:CodeableConcept[] " +
    "severity:CodeableConcept code:CodeableConcept bodySite:CodeableConcept[] subject:Reference! encounter:Reference " +
    `recordedDate:dateTime recorder:Reference asserter:Reference onset[x]:${ONSET} abatement[x]:${ONSET}`,
  Observation:
    "status:code! category:CodeableConcept[] code:CodeableConcept! subject:Reference focus:Reference[] " +
    "encounter:Reference issued:instant performer:Reference[] dataAbsentReason:CodeableConcept " +
    "interpretation:CodeableConcept[] bodySite:CodeableConcept method:CodeableConcept device:Reference " +
    "hasMember:Reference[] derivedFrom:Reference[] component:Backbone[] effective[x]:DateTime|Period|Timing|Instant " +
    "value[x]:Quantity|CodeableConcept|String|Boolean|Integer|Range|Ratio|SampledData|Time|DateTime|Period",
  DiagnosticReport:
    "status:code! category:CodeableConcept[] code:CodeableConcept! subject:Reference encounter:Reference " +
    "issued:instant performer:Reference[] result:Reference[] conclusionCode:CodeableConcept[] " +
    "presentedForm:object[] effective[x]:DateTime|Period",
  MedicationRequest:
    "status:code! intent:code! category:CodeableConcept[] priority:code subject:Reference! encounter:Reference " +
    "authoredOn:dateTime requester:Reference reasonCode:CodeableConcept[] reasonReference:Reference[] " +
    "dosageInstruction:object[] medication[x]!:CodeableConcept|Reference reported[x]:Boolean|Reference",
  MedicationStatement:
    "status:code! category:CodeableConcept subject:Reference! context:Reference dateAsserted:dateTime " +
    "reasonCode:CodeableConcept[] medication[x]!:CodeableConcept|Reference effective[x]:DateTime|Period",
  MedicationAdministration:
    "status:code! category:CodeableConcept subject:Reference! context:Reference " +
    "medication[x]!:CodeableConcept|Reference effective[x]!:DateTime|Period",
  Medication: "code:CodeableConcept status:code form:CodeableConcept ingredient:object[]",
  AllergyIntolerance:
    "clinicalStatus:CodeableConcept verificationStatus:CodeableConcept type:code category:code[] criticality:code " +
    "code:CodeableConcept patient:Reference! encounter:Reference recordedDate:dateTime recorder:Reference " +
    `asserter:Reference lastOccurrence:dateTime reaction:object[] onset[x]:${ONSET}`,
  Immunization:
    "status:code! vaccineCode:CodeableConcept! patient:Reference! encounter:Reference recorded:dateTime " +
    "primarySource:boolean location:Reference manufacturer:Reference lotNumber:string expirationDate:date " +
    "site:CodeableConcept route:CodeableConcept doseQuantity:Quantity performer:object[] occurrence[x]!:DateTime|String",
  Procedure:
    "status:code! category:CodeableConcept code:CodeableConcept subject:Reference! encounter:Reference " +
    "recorder:Reference asserter:Reference performer:object[] location:Reference reasonCode:CodeableConcept[] " +
    "reasonReference:Reference[] bodySite:CodeableConcept[] performed[x]:DateTime|Period|String|Age|Range",
  CarePlan:
    "status:code! intent:code! category:CodeableConcept[] title:string subject:Reference! encounter:Reference " +
    "period:Period created:dateTime author:Reference careTeam:Reference[] addresses:Reference[] goal:Reference[] " +
    "activity:object[]",
  CareTeam:
    "status:code category:CodeableConcept[] name:string subject:Reference encounter:Reference period:Period " +
    "participant:object[] managingOrganization:Reference[]",
  Goal:
    "lifecycleStatus:code! achievementStatus:CodeableConcept category:CodeableConcept[] priority:CodeableConcept " +
    "description:CodeableConcept! subject:Reference! target:object[] statusDate:date addresses:Reference[] " +
    "start[x]:Date|CodeableConcept",
  DocumentReference:
    "status:code! docStatus:code type:CodeableConcept category:CodeableConcept[] subject:Reference date:instant " +
    "author:Reference[] custodian:Reference content:Backbone[]!",
  Device:
    "status:code type:CodeableConcept patient:Reference owner:Reference location:Reference " +
    "manufactureDate:dateTime expirationDate:dateTime udiCarrier:object[] deviceName:object[]",
  ImagingStudy:
    "status:code! subject:Reference! encounter:Reference started:dateTime modality:Coding[] numberOfSeries:integer " +
    "numberOfInstances:integer series:object[] procedureCode:CodeableConcept[]",
  Claim:
    "status:code! type:CodeableConcept! use:code! patient:Reference! billablePeriod:Period created:dateTime! " +
    "provider:Reference! priority:CodeableConcept! insurance:object[]! insurer:Reference item:object[] " +
    "diagnosis:object[] prescription:Reference",
  ExplanationOfBenefit:
    "status:code! type:CodeableConcept! use:code! patient:Reference! billablePeriod:Period created:dateTime! " +
    "insurer:Reference! provider:Reference! outcome:code! insurance:object[]! claim:Reference referral:Reference " +
    "careTeam:object[] item:object[] total:object[]",
  Coverage:
    "status:code! type:CodeableConcept beneficiary:Reference! subscriber:Reference payor:Reference[]! period:Period",
  Provenance:
    "target:Reference[]! recorded:instant! activity:CodeableConcept reason:CodeableConcept[] agent:Backbone[]! " +
    "entity:object[] occurred[x]:Period|DateTime",
  Organization:
    "active:boolean type:CodeableConcept[] name:string telecom:object[] address:object[] partOf:Reference",
  Practitioner: "active:boolean name:object[] telecom:object[] address:object[] gender:code birthDate:date",
  PractitionerRole:
    "active:boolean period:Period practitioner:Reference organization:Reference code:CodeableConcept[] " +
    "specialty:CodeableConcept[] location:Reference[]",
  Location:
    "status:code name:string mode:code type:CodeableConcept[] address:object physicalType:CodeableConcept " +
    "managingOrganization:Reference partOf:Reference",
  SupplyDelivery:
    "status:code patient:Reference type:CodeableConcept suppliedItem:object supplier:Reference " +
    "destination:Reference receiver:Reference[] occurrence[x]:DateTime|Period|Timing",
  Consent:
    "status:code! scope:CodeableConcept! category:CodeableConcept[]! patient:Reference dateTime:dateTime " +
    "performer:Reference[] organization:Reference[] provision:object source[x]:Attachment|Reference",
  AuditEvent:
    "type:Coding! subtype:Coding[] action:code period:Period recorded:instant! outcome:code " +
    "purposeOfEvent:CodeableConcept[] source:object! entity:object[] agent:Backbone[]!",
  ServiceRequest:
    "status:code! intent:code! category:CodeableConcept[] priority:code code:CodeableConcept subject:Reference! " +
    "encounter:Reference authoredOn:dateTime requester:Reference performer:Reference[] reasonCode:CodeableConcept[] " +
    "reasonReference:Reference[] occurrence[x]:DateTime|Period|Timing",
  QuestionnaireResponse:
    "status:code! questionnaire:uri subject:Reference encounter:Reference authored:dateTime author:Reference " +
    "source:Reference item:object[]",
};

/** Nested parts with their own required elements, keyed `Type.element`. */
const BACKBONES: Record<string, string> = {
  "Observation.component":
    "code:CodeableConcept! value[x]:Quantity|CodeableConcept|String|Boolean|Integer|Range|Ratio",
  "DocumentReference.content": "attachment:object! format:Coding",
  "Provenance.agent": "who:Reference! type:CodeableConcept",
  "AuditEvent.agent": "requestor:boolean! who:Reference type:CodeableConcept",
};

export interface ElementRule {
  /** Data type name (`code`, `CodeableConcept`, `Backbone`, ...); for choices, the allowed suffixes. */
  types: string[];
  array: boolean;
  required: boolean;
  choice: boolean;
  /** For `Backbone` elements: the rules of the nested part. */
  backbone?: Map<string, ElementRule>;
}

function parseSpec(owner: string, spec: string): Map<string, ElementRule> {
  const rules = new Map<string, ElementRule>();
  for (const token of spec.split(/\s+/).filter(Boolean)) {
    const m = /^([a-zA-Z]+)(\[x\])?(!)?:([A-Za-z|]+)(\[\])?(!)?$/.exec(token);
    if (!m) throw new Error(`bad element spec ${owner}: ${token}`);
    const [, name = "", choice, choiceRequired, types = "", array, required] = m;
    const rule: ElementRule = {
      types: types.split("|"),
      array: array !== undefined,
      required: required !== undefined || choiceRequired !== undefined,
      choice: choice !== undefined,
    };
    const nested = BACKBONES[`${owner}.${name}`];
    if (types === "Backbone" && nested !== undefined) rule.backbone = parseSpec(`${owner}.${name}`, nested);
    rules.set(name, rule);
  }
  return rules;
}

/** Element rules of each supported type, parsed once. */
export const RESOURCE_ELEMENTS: ReadonlyMap<SupportedType, ReadonlyMap<string, ElementRule>> = new Map(
  (Object.entries(SPECS) as [SupportedType, string][]).map(([type, spec]) => [type, parseSpec(type, spec)]),
);
