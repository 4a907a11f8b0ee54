import { describe, expect, it } from "vitest";
import { accessScope, isKnownScope, parseResourceScope } from "./scopes.js";
import { covers } from "./smartStore.js";

describe("SMART scopes", () => {
  it("parses v2 letters in order, v1 read/write, and nothing else", () => {
    expect([...(parseResourceScope("patient/Observation.rs")?.interactions ?? [])]).toEqual(["r", "s"]);
    expect([...(parseResourceScope("user/*.read")?.interactions ?? [])]).toEqual(["r", "s"]);
    expect([...(parseResourceScope("user/*.write")?.interactions ?? [])]).toEqual(["c", "u", "d"]);
    for (const bad of [
      "patient/Observation.sr",
      "patient/Observation.rr",
      "patient/Observation.x",
      "system/*.rs",
      "patient/Observation.rs?category=laboratory",
      "patient/observation.rs",
      "openid",
    ])
      expect(isKnownScope(bad), bad).toBe(false);
    expect(isKnownScope("launch/patient")).toBe(true);
  });

  it("patient/ scopes reach the launch patient and resources of no patient; user/ scopes leave it to consent", () => {
    const scope = accessScope("launch/patient patient/Observation.rs", "p1");
    expect(scope.refusal("Observation", "r")).toBeUndefined();
    expect(scope.refusal("Observation", "r", "p1")).toBeUndefined();
    // a caregiver whose consent reaches p2 still reads only p1 through this token
    expect(scope.refusal("Observation", "r", "p2")).toMatch(/launch patient/);
    expect(scope.refusal("Observation", "u", "p1")).toMatch(/no 'u' on Observation/);
    expect(scope.refusal("Condition", "r", "p1")).toMatch(/no 'r' on Condition/);
    expect(accessScope("patient/*.rs", undefined).refusal("Observation", "r", "p1")).toBeDefined();
    expect(accessScope("patient/*.rs", "p1").refusal("Practitioner", "r", null)).toBeUndefined();
    expect(accessScope("user/*.rs", undefined).refusal("Condition", "s", "p2")).toBeUndefined();
  });

  it("a registration covers the same scope or a narrower resource scope, never a wider one", () => {
    expect(covers(["patient/*.rs"], "patient/Observation.r")).toBe(true);
    expect(covers(["patient/Observation.rs"], "patient/*.rs")).toBe(false);
    expect(covers(["patient/*.rs"], "user/Observation.rs")).toBe(false);
    expect(covers(["patient/*.rs"], "patient/Observation.c")).toBe(false);
    expect(covers(["offline_access"], "offline_access")).toBe(true);
    expect(covers(["patient/*.rs"], "offline_access")).toBe(false);
  });
});
