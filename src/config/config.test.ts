import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("has working defaults", () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe("127.0.0.1");
    expect(c.chainRpcUrl).toBeUndefined();
    expect(c.keyFile.endsWith("node-key.json")).toBe(true);
  });

  it("lets overrides win over the environment", () => {
    expect(loadConfig({ PORT: "9000" }, { port: 9100 }).port).toBe(9100);
  });

  it("names the bad setting in one line", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrowErrorMatchingInlineSnapshot(
      `[CarechainError: invalid configuration: PORT is invalid (Invalid input: expected number, received NaN)]`,
    );
    expect(() => loadConfig({ CHAIN_RPC_URL: "not a url" })).toThrowErrorMatchingInlineSnapshot(
      `[CarechainError: invalid configuration: CHAIN_RPC_URL must be a URL (http: or https:)]`,
    );
    expect(() => loadConfig({ DATABASE_URL: "mysql://x" })).toThrowErrorMatchingInlineSnapshot(
      `[CarechainError: invalid configuration: DATABASE_URL must be a URL (postgres: or postgresql:)]`,
    );
    expect(() => loadConfig({ ORG_KIND: "spaceship" })).toThrow(/ORG_KIND/);
    expect(() => loadConfig({ CARECHAIN_CONTRACTS: "{" })).toThrow(/CARECHAIN_CONTRACTS must be JSON/);
  });

  it("never echoes the key password", () => {
    try {
      loadConfig({ CARECHAIN_KEY_PASSWORD: "short" });
      expect.unreachable();
    } catch (e) {
      expect(String(e)).toContain("CARECHAIN_KEY_PASSWORD");
      expect(String(e)).not.toContain("short");
    }
  });
});
