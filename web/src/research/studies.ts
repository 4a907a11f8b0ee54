/**
 * Research studies as the pages show them: the shapes the node's `/research/...` and
 * `/patients/me/...` routes answer (src/api/routes/research.ts), a study's terms in plain words,
 * credits (CareCredit has two decimals), and the patient's enrollment signed in the browser with
 * the node's own research consent code (src/research/researchConsent.ts).
 */
import type { Address, Hex } from "viem";
import { toAccount } from "viem/accounts";
import {
  derivePayoutAccount,
  signResearchConsent,
  type ResearchConsent,
} from "../../../src/research/researchConsent.js";
import type { Category } from "../../../src/model/vocabulary.js";
import type { Signer } from "../auth/signer";
import { categoryLabel, formatDate } from "../lib/format";

/**
 * A criterion as the node answers it (src/research/studyDefinition.ts; that module is not imported
 * here because it brings the UCUM engine, which the pages do not need).
 */
export type Criterion =
  | { kind: "condition"; codes: { system: string; code: string }[] }
  | { kind: "age"; min?: number; max?: number }
  | { kind: "sex"; values: string[] }
  | {
      kind: "observation";
      code: string;
      comparator: "<" | "<=" | ">" | ">=";
      value: number;
      unit: string;
      which: "latest" | "any";
    }
  | { kind: "medication"; rxnorm: string[] };

/** A study's definition as the node answers it. */
export interface StudyDefinition {
  title: string;
  description: string;
  criteria: Criterion[];
  request: { categories: Category[] };
  release:
    | { kind: "extract" }
    | {
        kind: "aggregate";
        statistic: "count" | "sum" | "mean" | "histogram";
        measure?: { of: "age" } | { of: "observation"; code: string; unit: string };
        bounds?: [number, number];
        edges?: number[];
      };
  reward: number;
  maxParticipants: number;
  budget: number;
  enrollment: { start: string; end: string };
  minK: number;
  epsilonBudget: number;
}

/** A study as `GET /patients/me/studies` and `GET /research/studies` show it. */
export interface StudyView {
  studyId: Hex;
  organization: Hex;
  protocolHash: Hex;
  definition: StudyDefinition;
  createdAt: string;
  closed: boolean;
  enrollmentOpen: boolean;
}

export interface EnrollmentView {
  studyId: Hex;
  participant: Hex;
  payout: Address;
  enrolledAt: string;
  withdrawnAt: string | null;
  released: { releaseId: string; at: string }[];
}

export interface Earnings {
  balance: string;
  studies: { studyId: string; payout: string; balance: string }[];
  history: {
    kind: "paid" | "refunded" | "escrowed" | "minted";
    studyId: string | null;
    amount: string;
    to: string;
    blockNumber: string;
    transactionHash: string;
  }[];
}

/** A noisy count or statistic with its 95 % error bound (src/research/dpAggregates.ts). */
export interface NoisyValue {
  value: number;
  scale: number;
  errorBound95: number;
}

/** What the researcher's study page reads (`GET /research/studies/:id`). */
export interface StudyDetail extends StudyView {
  here: { enrolled: number; withdrawn: number };
  ledger: { enrolled: number; escrowed: string; epsilonSpent: number; closed: boolean } | null;
}

/** One node's release (src/research/studyReleases.ts NodeRelease). */
export interface NodeRelease {
  releaseId: Hex;
  studyId: Hex;
  organization: Hex;
  kind: "extract" | "aggregate";
  releaseHash: Hex;
  k: number;
  epsilon: number;
  data: { kind: "extract"; participants: number } | { kind: "aggregate"; statistic: string; result: unknown };
}

/** Credit units (two decimals) as credits: 250 → "2.50". */
export function credits(units: string | number | bigint): string {
  const n = BigInt(units);
  const sign = n < 0n ? "-" : "";
  const abs = n < 0n ? -n : n;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
}

/** Credits typed by a person ("2.5", "2.50", "3") as whole units, or undefined. */
export function creditUnits(text: string): number | undefined {
  const m = /^\s*(\d{1,12})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * 100 + Number((m[2] ?? "0").padEnd(2, "0"));
}

const SEX_WORDS: Record<string, string> = {
  female: "female",
  male: "male",
  other: "other",
  unknown: "unknown",
};
const COMPARATOR_WORDS: Record<string, string> = {
  "<": "below",
  "<=": "at most",
  ">": "above",
  ">=": "at least",
};

/** One criterion in plain words. */
export function criterionWords(c: Criterion): string {
  switch (c.kind) {
    case "condition":
      return `Diagnosed with ${c.codes.map((x) => `${x.system.includes("snomed") ? "SNOMED CT" : "ICD-10"} ${x.code}`).join(" or ")}`;
    case "age":
      if (c.min !== undefined && c.max !== undefined) return `Aged ${c.min} to ${c.max}`;
      return c.min !== undefined ? `Aged ${c.min} or over` : `Aged ${c.max} or under`;
    case "sex":
      return `Sex: ${c.values.map((v) => SEX_WORDS[v] ?? v).join(" or ")}`;
    case "observation":
      return `${c.which === "any" ? "Any" : "Latest"} LOINC ${c.code} result ${COMPARATOR_WORDS[c.comparator]} ${c.value} ${c.unit}`;
    case "medication":
      return `Prescribed or taking RxNorm ${c.rxnorm.join(" or ")}`;
  }
}

/** The release kind in plain words. */
export function releaseWords(d: StudyDefinition): string {
  const r = d.release;
  if (r.kind === "extract")
    return "A de-identified copy of the requested records: names, addresses, contact details and identifiers removed, dates shifted, ages over 89 grouped, free text dropped.";
  const of =
    r.measure === undefined
      ? ""
      : r.measure.of === "age"
        ? " of age"
        : ` of LOINC ${r.measure.code} (${r.measure.unit})`;
  const what = { count: "A count", sum: "A sum", mean: "An average", histogram: "A histogram" }[r.statistic];
  return `${what}${of} over everyone enrolled, with differential-privacy noise added: no one's own records leave.`;
}

export const categoriesWords = (d: StudyDefinition): string =>
  d.request.categories.map(categoryLabel).join(", ");

export const windowWords = (d: StudyDefinition): string =>
  `${formatDate(d.enrollment.start)} to ${formatDate(d.enrollment.end)}`;

export const minKWords = (d: StudyDefinition): string =>
  `Data is released only when at least ${d.minK} participants share the same broad profile (sex, 5-year age band, state, first 3 ZIP digits), so no one stands out.`;

/**
 * The patient's wallet enrolls them: it derives the study's payout account (a signature over the
 * study id, hashed into a key the node never sees) and signs the research consent (EIP-712).
 * @returns the body of `POST /patients/me/studies/:id/enroll`
 */
export async function signEnrollment(
  signer: Signer,
  config: { chainId: number; organization: Hex },
  study: StudyView,
): Promise<{ consent: object; signature: Hex }> {
  // the node's functions take a viem account; this one signs with the browser's signer
  const wallet = toAccount({
    address: signer.address,
    signMessage: signer.signMessage,
    signTypedData: (args) => signer.signTypedData(args as Parameters<Signer["signTypedData"]>[0]),
    signTransaction: () => Promise.reject(new Error("enrollment signs no transaction")),
  });
  const payout = await derivePayoutAccount(wallet, config.chainId, study.studyId);
  const consent = {
    patient: signer.address,
    studyId: study.studyId,
    organization: config.organization,
    purpose: "HRESCH",
    categories: study.definition.request.categories,
    payout: payout.address,
    mayWithdraw: true,
    issuedAt: Math.floor(Date.now() / 1000),
  } satisfies ResearchConsent;
  const signature = await signResearchConsent(wallet, config.chainId, consent);
  return { consent, signature };
}
