/** Formatting shared by pages: accounts, dates, categories and purposes in plain words. */

export const shortAccount = (account: string): string => `${account.slice(0, 6)}…${account.slice(-4)}`;

export function formatDate(iso: string | undefined): string {
  if (iso === undefined) return "unknown date";
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? "unknown date"
    : d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function formatDateTime(iso: string | undefined): string {
  if (iso === undefined) return "unknown time";
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? "unknown time"
    : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export const CATEGORY_LABELS: Record<string, string> = {
  demographics: "Personal details",
  conditions: "Conditions and diagnoses",
  medications: "Medications",
  allergies: "Allergies",
  immunizations: "Immunizations",
  labs: "Lab results",
  vitals: "Vital signs",
  imaging: "Imaging",
  notes: "Clinical notes",
  "device-readings": "Device readings",
  encounters: "Visits",
  procedures: "Procedures",
  "care-plans": "Care plans",
  documents: "Documents",
  financial: "Billing and insurance",
  audit: "Access history",
  "mental-health": "Mental health",
  "sexual-health": "Sexual and reproductive health",
  "substance-use": "Substance use",
  genomics: "Genetic information",
};

export const categoryLabel = (c: string): string => CATEGORY_LABELS[c] ?? c;

export const PURPOSE_LABELS: Record<string, string> = {
  TREAT: "treatment",
  ETREAT: "emergency treatment",
  HPAYMT: "payment",
  HOPERAT: "the organization's operations",
  HRESCH: "research",
  PUBHLTH: "public health",
  PATRQT: "your own request",
  CAREMGT: "care management",
  HDIRECT: "a directory",
  COVERAGE: "checking coverage",
};

export const purposeLabel = (p: string): string => PURPOSE_LABELS[p] ?? p;

export const ACTION_LABELS: Record<string, string> = {
  read: "viewed",
  search: "searched",
  create: "added",
  update: "changed",
  delete: "deleted",
  deny: "was refused",
  erase: "erased",
  export: "exported",
  "break-glass": "opened emergency access to",
  share: "shared",
  "consent-request": "asked for access to",
};
