/**
 * Code lists that put a resource into a consent category, in one place so they can be reviewed
 * and extended. Sensitive lists follow the HL7 v3 ActCode information sensitivity policies
 * (https://terminology.hl7.org/ValueSet-v3-ActInformationSensitivityPolicy.html) and the codes
 * Synthea emits for the matching modules; a code missing here means a sensitive record is
 * classified only by its ordinary category, so lists err on the side of inclusion.
 */
import type { Category } from "../model/vocabulary.js";

export const SNOMED = "http://snomed.info/sct";
export const LOINC = "http://loinc.org";
export const RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
export const ICD10_SYSTEMS = ["http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm"];
export const ACT_CODE_SYSTEMS = [
  "http://terminology.hl7.org/CodeSystem/v3-ActCode",
  "http://hl7.org/fhir/v3/ActCode",
];
export const V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074";
export const OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category";

export type SensitiveCategory = "mental-health" | "sexual-health" | "substance-use" | "genomics";

/** meta.security (or any v3 ActCode coding): sensitivity policy and privacy law codes. */
export const SECURITY_LABELS: Record<SensitiveCategory, readonly string[]> = {
  "mental-health": ["PSY", "MH", "BH", "PSYTHPN", "HIPAAPsyNotes"],
  "substance-use": ["ETH", "SUD", "OPIOIDUD", "ALC", "COCU", "42CFRPart2"],
  "sexual-health": ["SEX", "HIV", "STD", "SDV", "PREGNANT", "MST"],
  genomics: ["GDIS"],
};

/** SNOMED CT findings, disorders and procedures (Synthea's mental health, substance, HIV, pregnancy, contraceptive modules). */
export const SNOMED_CODES: Record<SensitiveCategory, readonly string[]> = {
  "mental-health": [
    "35489007", // depressive disorder
    "36923009", // major depression, single episode
    "370143000", // major depressive disorder
    "191736004", // recurrent major depression
    "197480006", // anxiety disorder
    "48694002", // anxiety
    "47505003", // posttraumatic stress disorder
    "58214004", // schizophrenia
    "13746004", // bipolar disorder
    "192127007", // child attention deficit disorder
    "171207006", // depression screening
    "454711000124102", // depression screening using PHQ-2
    "715252007", // depression screening using PHQ-9
    "90407005", // evaluation of psychiatric state
    "304891004", // cognitive and behavioral therapy
  ],
  "substance-use": [
    "7200002", // alcoholism
    "66590003", // alcohol dependence
    "15167005", // alcohol abuse
    "10939881000119105", // unhealthy alcohol drinking behavior
    "5602001", // opioid abuse
    "75544000", // opioid dependence
    "6525002", // dependent drug abuse
    "26416006", // drug abuse
    "361055000", // misuses drugs
    "55680006", // drug overdose
    "713106006", // screening for drug abuse
    "428211000124100", // assessment of substance use
    "763302001", // assessment using AUDIT-C
  ],
  "sexual-health": [
    "86406008", // HIV infection
    "62479008", // AIDS
    "165816005", // HIV positive
    "91947003", // asymptomatic HIV infection
    "105629000", // chlamydial infection
    "240589008", // chlamydia trachomatis infection
    "15628003", // gonorrhea
    "76272004", // syphilis
    "33839006", // genital herpes
    "72892002", // normal pregnancy
    "77386006", // pregnancy
    "47200007", // high risk pregnancy
    "19169002", // miscarriage in first trimester
    "156073000", // complete miscarriage
    "79586000", // tubal pregnancy
    "398254007", // pre-eclampsia
    "198992004", // eclampsia in pregnancy
    "11687002", // gestational diabetes
    "424619006", // prenatal visit
    "169762003", // postnatal visit
    "183460006", // obstetric emergency hospital admission
    "11466000", // cesarean section
    "177184002", // normal delivery procedure
    "31208007", // medical induction of labor
    "714812005", // induced termination of pregnancy
    "252160004", // standard pregnancy test
    "169230002", // ultrasound scan for fetal viability
    "169553002", // insertion of subcutaneous contraceptive
    "301807007", // removal of subcutaneous contraceptive
    "65200003", // insertion of intrauterine contraceptive device
    "68254000", // removal of intrauterine device
    "22523008", // vasectomy
    "287664005", // bilateral tubal ligation
    "706893006", // victim of intimate partner abuse
    "866148006", // screening for domestic abuse
  ],
  genomics: [
    "405824009", // genetic test
  ],
};

/** LOINC observations and panels: mental health instruments, substance screens, genetics. */
export const LOINC_CODES: Record<SensitiveCategory, readonly string[]> = {
  "mental-health": [
    "55757-9",
    "55758-7", // PHQ-2 panel, total score
    "44249-1",
    "44261-6", // PHQ-9 panel, total score
    "89204-2", // PHQ-9 modified for teens, total score
    "69737-5",
    "70274-6", // GAD-7 panel, total score
    "71354-5", // Edinburgh postnatal depression scale, total score
  ],
  "substance-use": [
    "72109-2",
    "75626-2", // AUDIT-C panel, total score
    "72110-0",
    "75624-7", // AUDIT panel, total score
    "82666-9",
    "82667-7", // DAST-10 panel, total score
    "87428-9",
    "24349-3",
    "95796-9", // drugs of abuse panels (urine)
    "3427-2",
    "3393-6",
    "3349-8", // cannabinoids, benzoylecgonine, amphetamines
    "18282-4",
    "14314-9",
    "19261-7", // the same by screen method
    "19289-8",
    "14315-6",
    "16369-1", // the same by confirm method
  ],
  "sexual-health": [
    "76499-3", // HARK intimate partner violence screen
  ],
  genomics: [
    "51969-4",
    "55233-1",
    "81247-9", // genetic analysis report / master panels
    "69548-6",
    "48018-6",
    "81252-9",
    "53037-8",
    "51958-7",
    "62374-4",
    "48004-6",
    "48005-3",
    "69547-8",
    "69551-0", // variant descriptors
    "21636-6",
    "21637-4", // BRCA1, BRCA2 mutations
  ],
};

/** RxNorm: hormonal contraceptives Synthea prescribes. */
export const RXNORM_CODES: Partial<Record<SensitiveCategory, readonly string[]>> = {
  "sexual-health": [
    "748962",
    "831533",
    "757594",
    "235389",
    "749882",
    "1359133",
    "749785",
    "751905",
    "749762",
    "748856",
    "978950",
    "748879",
    "1367439",
    "807283",
    "1856546",
    "1605257",
    "389221",
    "1000126",
  ],
};

/** ICD-10 ranges compared on the leading characters of the code without its dot, first match wins. */
export const ICD10_RANGES: readonly { from: string; to: string; category: SensitiveCategory }[] = [
  { from: "F10", to: "F19", category: "substance-use" },
  { from: "F01", to: "F99", category: "mental-health" },
  { from: "Z714", to: "Z715", category: "substance-use" }, // alcohol and drug abuse counselling
  { from: "B20", to: "B20", category: "sexual-health" },
  { from: "Z21", to: "Z21", category: "sexual-health" },
  { from: "A50", to: "A64", category: "sexual-health" },
  { from: "O00", to: "O9A", category: "sexual-health" },
  { from: "Z30", to: "Z36", category: "sexual-health" },
  { from: "Z3A", to: "Z3A", category: "sexual-health" },
  { from: "Q90", to: "Q99", category: "genomics" },
  { from: "Z15", to: "Z15", category: "genomics" },
];

/** DiagnosticReport categories (v2-0074 diagnostic service sections). */
export const DIAGNOSTIC_SECTIONS: Record<string, readonly Category[]> = {
  GE: ["labs", "genomics"],
  CG: ["labs", "genomics"],
  OUS: ["imaging", "sexual-health"],
  ...Object.fromEntries(
    [
      "LAB",
      "BG",
      "BLB",
      "CH",
      "CP",
      "HM",
      "IMM",
      "MB",
      "MCB",
      "MYC",
      "OSL",
      "SP",
      "SR",
      "TX",
      "URN",
      "VR",
    ].map((c) => [c, ["labs"] as const]),
  ),
  ...Object.fromEntries(
    ["RAD", "CT", "NMR", "NMS", "RUS", "RX", "XRC", "CUS", "VUS"].map((c) => [c, ["imaging"] as const]),
  ),
};

/** Observation categories (https://hl7.org/fhir/R4/valueset-observation-category.html). */
export const OBSERVATION_CATEGORIES: Record<string, Category> = {
  "vital-signs": "vitals",
  laboratory: "labs",
  imaging: "imaging",
  procedure: "procedures",
  therapy: "procedures",
  activity: "vitals",
  "social-history": "conditions",
  survey: "conditions",
  exam: "conditions",
};

/** LOINC vital signs (https://hl7.org/fhir/R4/observation-vitalsigns.html) for uncategorized Observations. */
export const VITAL_SIGN_LOINC: readonly string[] = [
  "85353-1",
  "9279-1",
  "8867-4",
  "2708-6",
  "59408-5",
  "8310-5",
  "8302-2",
  "9843-4",
  "29463-7",
  "39156-5",
  "85354-9",
  "8480-6",
  "8462-4",
  "8478-0",
];

/** LOINC document types of clinical notes (DiagnosticReport and DocumentReference). */
export const NOTE_LOINC: readonly string[] = [
  "34117-2",
  "51847-2",
  "11506-3",
  "18842-5",
  "11488-4",
  "28570-0",
  "34109-9",
  "34133-9",
  "11526-1",
];
