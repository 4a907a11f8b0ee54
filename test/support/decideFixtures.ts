/** Shared fixtures of the `decide()` tests: a patient, a doctor, organizations and builders. */
import { toHex, type Address, type Hex } from "viem";
import type { DecisionRequest } from "../../src/consent/decide.js";
import { GrantIndex } from "../../src/consent/grantIndex.js";
import { accountToBytes32 } from "../../src/consent/signConsent.js";
import { type Grant } from "../../src/model/consentTypes.js";
import { actionMask, categoryMask, purposeMask } from "../../src/model/vocabulary.js";

export const PATIENT = "0x1111111111111111111111111111111111111111" as Address;
export const DOCTOR = "0xD0c7000000000000000000000000000000000001" as Address;
export const ORG = `0x${"0a".repeat(32)}` as Hex;
export const OTHER_ORG = `0x${"0b".repeat(32)}` as Hex;
export const ZERO = `0x${"0".repeat(64)}` as Hex;
export const T0 = 1_700_000_000;
export const DAY = 86_400;

let counter = 0;
/** A grant from PATIENT to DOCTOR of labs and medications, TREAT, read, for 30 days from T0. */
export function grant(overrides: Partial<Grant> = {}): Grant {
  counter += 1;
  return {
    grantId: `0x${counter.toString(16).padStart(64, "0")}`,
    patient: PATIENT,
    granteeKind: "practitioner",
    grantee: accountToBytes32(DOCTOR),
    role: ZERO,
    categories: categoryMask(["labs", "medications"]),
    purposes: purposeMask(["TREAT"]),
    actions: actionMask(["read"]),
    notBefore: T0,
    notAfter: T0 + 30 * DAY,
    salt: toHex(counter, { size: 32 }),
    ...overrides,
  };
}

/** DOCTOR reading PATIENT's labs for TREAT a day after T0. */
export function request(overrides: Partial<DecisionRequest> = {}): DecisionRequest {
  return {
    principal: { account: DOCTOR, kind: "practitioner" },
    patient: PATIENT,
    category: "labs",
    purpose: "TREAT",
    action: "read",
    time: T0 + DAY,
    ...overrides,
  };
}

/** An index holding these grants. */
export function indexOf(...grants: Grant[]): GrantIndex {
  const index = new GrantIndex();
  for (const g of grants) index.add(g);
  return index;
}
