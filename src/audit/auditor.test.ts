import { describe, expect, it } from "vitest";
import type { Principal } from "../model/principal.js";
import { certainlyValidEntry } from "./auditEntry.js";
import { Auditor } from "./auditor.js";

const principal: Principal = {
  account: "0x00000000000000000000000000000000000000c1",
  kind: "practitioner",
  organization: "0x0000000000000000000000000000000000000000000000000000000000000001",
  role: "physician",
  purpose: "TREAT",
  authenticatedBy: "siwe-session",
  requestId: "req-1",
};

describe("Auditor", () => {
  it("builds an entry the log's fast check accepts, each category once and in order", () => {
    const auditor = new Auditor(
      { enqueue: () => Promise.resolve(0) },
      "0x00000000000000000000000000000000000000aa",
    );
    const facts = ["labs", "vitals", "labs", "conditions", "vitals"] as const;
    const entry = auditor.entryFor(principal, {
      action: "read",
      decision: "permit",
      patient: "0x00000000000000000000000000000000000000b2",
      resources: ["Observation/o1"],
      categories: [...facts],
    });
    expect(entry.categories).toEqual(["labs", "vitals", "conditions"]);
    expect(certainlyValidEntry(entry)).toBe(true);
  });
});
