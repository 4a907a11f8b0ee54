/**
 * Adult immunizations due, after the CDC Adult Immunization Schedule (United States, 2025), as
 * data: which CVX codes count, from what age a dose counts, and the schedule's rule (every season,
 * every N years, or a series). A newer schedule replaces this file without touching the rule
 * (rules/immunizationsDue.ts).
 */
import type { GuidelineSource } from "../guidanceCard.js";

export type ImmunizationSchedule =
  /** One dose per respiratory-virus season (from August 1 to July 31). */
  | { kind: "seasonal" }
  /** One dose every `years` years. */
  | { kind: "booster"; years: number }
  /** `doses` doses given at or after `countFromAge`, `minWeeksBetween` weeks apart. */
  | { kind: "series"; doses: number; minWeeksBetween: number; countFromAge: number };

export interface AdultImmunization {
  id: string;
  title: string;
  plain: string;
  minAge: number;
  cvx: readonly string[];
  schedule: ImmunizationSchedule;
  source: GuidelineSource;
}

const SCHEDULE: Omit<GuidelineSource, "version"> = {
  publisher: "CDC",
  title: "Adult Immunization Schedule by Age, United States",
  date: "2025",
  url: "https://www.cdc.gov/vaccines/hcp/imz-schedules/adult-age.html",
};

export const ADULT_IMMUNIZATIONS: readonly AdultImmunization[] = [
  {
    id: "influenza",
    title: "Influenza vaccine (this season)",
    plain: "this season's flu vaccine",
    minAge: 18,
    cvx: ["88", "111", "135", "140", "141", "144", "149", "150", "151", "153", "155", "158", "161", "166", "168", "171", "185", "186", "197", "205"],
    schedule: { kind: "seasonal" },
    source: { ...SCHEDULE, version: "2025; influenza: 1 dose annually" },
  },
  {
    id: "tetanus",
    title: "Td/Tdap booster (every 10 years)",
    plain: "a tetanus booster (Td or Tdap)",
    minAge: 19,
    cvx: ["01", "09", "20", "22", "50", "102", "106", "107", "110", "113", "115", "120", "130", "138", "139", "146", "170", "196", "198"],
    schedule: { kind: "booster", years: 10 },
    source: { ...SCHEDULE, version: "2025; Td or Tdap every 10 years" },
  },
  {
    id: "pneumococcal",
    title: "Pneumococcal vaccine (from 50)",
    plain: "a pneumococcal (pneumonia) vaccine",
    minAge: 50,
    cvx: ["33", "109", "133", "152", "215", "216"],
    schedule: { kind: "series", doses: 1, minWeeksBetween: 0, countFromAge: 19 },
    source: { ...SCHEDULE, version: "2025; pneumococcal conjugate vaccine for adults 50 and older" },
  },
  {
    id: "zoster",
    title: "Recombinant zoster vaccine, 2 doses (from 50)",
    plain: "the shingles vaccine (2 doses)",
    minAge: 50,
    cvx: ["187"],
    schedule: { kind: "series", doses: 2, minWeeksBetween: 8, countFromAge: 50 },
    source: { ...SCHEDULE, version: "2025; RZV 2 doses 2-6 months apart, 50 and older" },
  },
  {
    id: "covid-19",
    title: "COVID-19 vaccine (this season)",
    plain: "this season's COVID-19 vaccine",
    minAge: 18,
    cvx: ["207", "208", "210", "211", "212", "213", "217", "218", "219", "221", "225", "226", "227", "228", "229", "230", "300", "301", "302", "309", "310", "311", "312", "313"],
    schedule: { kind: "seasonal" },
    source: { ...SCHEDULE, version: "2025; 1 dose of the current season's vaccine (one dose a season used here)" },
  },
];
