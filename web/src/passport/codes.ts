/**
 * Names for the codes a health card carries (cards hold codes only, no display text): the CVX
 * vaccines and LOINC tests met most on SMART Health Cards. Anything else is shown as system + code.
 */
const CVX: Record<string, string> = {
  "207": "COVID-19, Moderna",
  "208": "COVID-19, Pfizer-BioNTech",
  "210": "COVID-19, AstraZeneca",
  "211": "COVID-19, Novavax",
  "212": "COVID-19, Janssen",
  "213": "COVID-19, unspecified",
  "217": "COVID-19, Pfizer-BioNTech",
  "218": "COVID-19, Pfizer-BioNTech (ages 5-11)",
  "219": "COVID-19, Pfizer-BioNTech (ages 6 months-4 years)",
  "221": "COVID-19, Moderna",
  "229": "COVID-19, Moderna bivalent",
  "300": "COVID-19, Pfizer-BioNTech bivalent",
  "08": "Hepatitis B",
  "03": "MMR",
  "10": "Polio (IPV)",
  "20": "DTaP",
  "21": "Varicella",
  "33": "Pneumococcal polysaccharide",
  "62": "HPV",
  "113": "Td",
  "115": "Tdap",
  "121": "Zoster",
  "133": "Pneumococcal conjugate (PCV13)",
  "140": "Influenza, seasonal",
  "141": "Influenza, seasonal",
  "150": "Influenza, seasonal",
};

const LOINC: Record<string, string> = {
  "94500-6": "SARS-CoV-2 RNA (PCR)",
  "94309-2": "SARS-CoV-2 RNA (PCR)",
  "94558-4": "SARS-CoV-2 antigen (rapid test)",
  "94534-5": "SARS-CoV-2 RNA (PCR)",
  "95209-3": "SARS-CoV-2 antigen",
  "94563-4": "SARS-CoV-2 IgG antibody",
};

const SYSTEMS: Record<string, string> = {
  "http://hl7.org/fhir/sid/cvx": "CVX",
  "http://loinc.org": "LOINC",
  "http://snomed.info/sct": "SNOMED CT",
};

/** A fact's code in words: its display when the card has one, a known name, else system + code. */
export function codeName(fact: {
  system?: string | undefined;
  code?: string | undefined;
  display?: string | undefined;
}): string {
  if (fact.display) return fact.display;
  const code = fact.code ?? "";
  const known =
    fact.system === "http://hl7.org/fhir/sid/cvx"
      ? CVX[code]
      : fact.system === "http://loinc.org"
        ? LOINC[code]
        : undefined;
  if (known !== undefined) return known;
  const system = fact.system === undefined ? "" : (SYSTEMS[fact.system] ?? fact.system);
  return `${system} ${code}`.trim() || "unnamed";
}
