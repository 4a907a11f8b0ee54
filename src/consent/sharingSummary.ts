import { isAddressEqual, type Address, type Hex } from "viem";
import type { Principal } from "../model/principal.js";
import {
  CATEGORIES,
  SENSITIVE_CATEGORIES,
  actionBit,
  categoriesOf,
  purposeBit,
  type Category,
  type Purpose,
} from "../model/vocabulary.js";
import type { ConsentService } from "./consentService.js";

/** One category the patient shares with the caller, and the grants that share it. */
export interface SharedCategory {
  category: Category;
  sensitive: boolean;
  grants: Hex[];
  /** When the last of those grants ends (ISO 8601). */
  until: string;
}

/** What a patient's grants let the caller read, and what they do not. */
export interface SharingSummary {
  patient: Address;
  purpose: Purpose;
  shared: SharedCategory[];
  /** Every category no grant in force shares with the caller for `purpose`. */
  notShared: Array<{ category: Category; sensitive: boolean }>;
}

/**
 * Which categories a patient shares with the caller, and which not, for one purpose and reading,
 * computed from the grants in force alone (the caller as a practitioner, through their
 * organization, or their role there). It never looks at data: a category with no grant is
 * "not shared" whether or not the patient has any such data here, and an account the node has
 * never heard of answers exactly as a patient who shared nothing. Break-glass and the authoring
 * organization's own records are other rules (see `decide()`), not sharing.
 * @param consents - the grant index's "shared with me" view
 * @param principal - the caller
 * @param patient - the patient's account
 * @param purpose - the purpose of use the caller reads under
 */
export function sharingSummary(
  consents: Pick<ConsentService, "sharedWith">,
  principal: Principal,
  patient: Address,
  purpose: Purpose,
): SharingSummary {
  const now = Math.floor(Date.now() / 1000);
  const read = actionBit("read");
  const wanted = purposeBit(purpose);
  const byCategory = new Map<Category, { grants: Hex[]; until: number }>();
  for (const g of consents.sharedWith(principal)) {
    if (!isAddressEqual(g.patient as Address, patient) || g.notBefore > now) continue;
    if ((g.purposes & wanted) === 0 || (g.actions & read) === 0) continue;
    for (const category of categoriesOf(g.categories)) {
      const entry = byCategory.get(category) ?? { grants: [], until: 0 };
      entry.grants.push(g.grantId);
      entry.until = Math.max(entry.until, g.notAfter);
      byCategory.set(category, entry);
    }
  }
  const sensitive = (c: Category) => SENSITIVE_CATEGORIES.includes(c);
  return {
    patient,
    purpose,
    shared: CATEGORIES.filter((c) => byCategory.has(c)).map((category) => {
      const e = byCategory.get(category)!;
      return {
        category,
        sensitive: sensitive(category),
        grants: e.grants,
        until: new Date(e.until * 1000).toISOString(),
      };
    }),
    notShared: CATEGORIES.filter((c) => !byCategory.has(c)).map((category) => ({
      category,
      sensitive: sensitive(category),
    })),
  };
}
