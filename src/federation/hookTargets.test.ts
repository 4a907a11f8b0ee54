import { describe, expect, it } from "vitest";
import { HookTargets, isPublicAddress } from "./hookTargets.js";

describe("REST hook targets", () => {
  it("tells public unicast addresses from loopback, private, link-local and reserved ones", () => {
    for (const a of [
      "8.8.8.8",
      "1.1.1.1",
      "2606:4700:4700::1111",
      "::ffff:8.8.8.8",
      "64:ff9b::808:808",
      "2002:808:808::1",
    ]) {
      expect(isPublicAddress(a), a).toBe(true);
    }
    for (const a of [
      "127.0.0.1",
      "10.0.0.5",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      // IPv6 forms that carry an internal IPv4 address, and Teredo
      "64:ff9b::7f00:1",
      "64:ff9b::10.1.2.3",
      "2002:a9fe:a9fe::1",
      "2002:c0a8:101::",
      "2001:0:4136:e378:8000:63bf:3fff:fdd2",
      "not-an-address",
    ]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    expect(isPublicAddress("172.32.0.1")).toBe(true);
  });

  it("refuses names and literals that reach internal addresses, unless the operator allowed the host", async () => {
    const none = new HookTargets();
    for (const u of [
      "http://127.0.0.1:8080/x",
      "http://localhost/x",
      "http://[::1]/x",
      "https://169.254.169.254/",
    ]) {
      await expect(none.check(new URL(u)), u).rejects.toThrow(
        expect.objectContaining({ kind: "invalid", message: "endpoint must be a public address" }),
      );
    }
    await expect(none.check(new URL("http://no-such-host.invalid/x"))).rejects.toThrow(
      expect.objectContaining({ kind: "invalid", message: "endpoint host does not resolve" }),
    );
    const some = new HookTargets(["127.0.0.1", "Engine.Internal:8443"]);
    await expect(some.check(new URL("http://127.0.0.1:9/x"))).resolves.toBeUndefined();
    expect(some.allows(new URL("https://engine.internal:8443/hook"))).toBe(true);
    expect(some.allows(new URL("https://engine.internal:9443/hook"))).toBe(false);
    expect(some.lookupFor(new URL("http://127.0.0.1/x"))).toBeUndefined();
    expect(some.lookupFor(new URL("http://localhost/x"))).toBeTypeOf("function");
    // Literal addresses are never looked up: they are judged before connecting.
    expect(() => none.lookupFor(new URL("http://[::ffff:127.0.0.1]:80/x"))).toThrow(/public address/);
    expect(none.lookupFor(new URL("http://8.8.8.8/x"))).toBeTypeOf("function");
  });
});
