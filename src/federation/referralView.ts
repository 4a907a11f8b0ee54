import type { Selectable } from "kysely";
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { CATEGORIES, categoriesOf, type Category } from "../model/vocabulary.js";
import type { ReferralTable } from "../store/schema.js";

/** A SNOMED CT concept id (6 to 18 digits): referrals carry codes, never free text. */
export const snomedCode = z.string().regex(/^\d{6,18}$/, "must be a SNOMED CT concept id (digits)");
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed bytes32");
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");

/** The body of POST /federation/referral-notice, sent node to node when a referral is accepted. */
export const referralNoticeSchema = z.strictObject({
  referralId: z.uuid(),
  patient: address.transform((a) => getAddress(a)),
  fromOrganization: bytes32.transform((h) => h.toLowerCase() as Hex),
  toOrganization: bytes32.transform((h) => h.toLowerCase() as Hex),
  categories: z.array(z.enum(CATEGORIES)).min(1).max(CATEGORIES.length),
  reasonCode: snomedCode.optional(),
  status: z.enum(["requested", "accepted"]),
  grantId: bytes32.transform((h) => h.toLowerCase() as Hex).optional(),
  time: z.iso.datetime(),
});
export type ReferralNotice = z.infer<typeof referralNoticeSchema>;

/** A referral as the API shows it. */
export interface ReferralView {
  id: string;
  direction: "outbound" | "inbound";
  patient: Address;
  fromOrganization: Hex;
  toOrganization: Hex;
  requester: Address;
  categories: Category[];
  reasonCode: { system: "http://snomed.info/sct"; code: string } | null;
  status: "requested" | "accepted";
  grantId: Hex | null;
  createdAt: string;
  updatedAt: string;
}

/** The API view of a stored referral. */
export function referralView(row: Selectable<ReferralTable>): ReferralView {
  return {
    id: row.id,
    direction: row.direction === "inbound" ? "inbound" : "outbound",
    patient: getAddress(row.patient),
    fromOrganization: row.from_org as Hex,
    toOrganization: row.to_org as Hex,
    requester: getAddress(row.requester),
    categories: categoriesOf(Number(row.categories)),
    reasonCode: row.reason_code ? { system: "http://snomed.info/sct", code: row.reason_code } : null,
    status: row.status === "accepted" ? "accepted" : "requested",
    grantId: (row.grant_id as Hex | null) ?? null,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
  };
}
