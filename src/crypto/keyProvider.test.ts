import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import { LocalKeyProvider, loadOrCreateLocalKeyProvider } from "./keyProvider.js";

async function rejection(promise: Promise<unknown>): Promise<BaseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BaseError);
  return error as BaseError;
}

describe("LocalKeyProvider", () => {
  const provider = new LocalKeyProvider(randomBytes(32));
  const dataKey = randomBytes(32);

  it("wraps as version || iv || tag || ciphertext and unwraps under the same context", async () => {
    const wrapped = await provider.wrap(dataKey, "patient-key/0xabc");
    expect(wrapped.length).toBe(1 + 12 + 16 + 32);
    expect(wrapped[0]).toBe(1);
    expect(Buffer.from(await provider.unwrap(wrapped, "patient-key/0xabc"))).toEqual(dataKey);
  });

  it("uses a fresh IV each time", async () => {
    const a = await provider.wrap(dataKey, "c");
    const b = await provider.wrap(dataKey, "c");
    expect(Buffer.from(a).subarray(1, 13)).not.toEqual(Buffer.from(b).subarray(1, 13));
  });

  it("refuses another context, another master key, and altered bytes", async () => {
    const wrapped = await provider.wrap(dataKey, "patient-key/0xabc");
    expect((await rejection(provider.unwrap(wrapped, "patient-key/0xabd"))).message).toMatchInlineSnapshot(
      `"key unwrap failed: wrong master key, wrong context, or altered bytes"`,
    );
    const other = new LocalKeyProvider(randomBytes(32));
    expect((await rejection(other.unwrap(wrapped, "patient-key/0xabc"))).kind).toBe("internal");
    const altered = Buffer.from(wrapped);
    altered[altered.length - 1]! ^= 1;
    expect((await rejection(provider.unwrap(altered, "patient-key/0xabc"))).kind).toBe("internal");
    expect(
      (await rejection(provider.unwrap(Buffer.from([2, ...altered.subarray(1)]), "patient-key/0xabc")))
        .message,
    ).toBe("wrapped key has an unknown format");
  });

  it("derives a stable id from the key without revealing it", () => {
    const key = randomBytes(32);
    const a = new LocalKeyProvider(key);
    expect(a.id).toMatch(/^local:[0-9a-f]{16}$/);
    expect(new LocalKeyProvider(key).id).toBe(a.id);
    expect(new LocalKeyProvider(randomBytes(32)).id).not.toBe(a.id);
    expect(a.id).not.toContain(key.toString("hex").slice(0, 16));
  });

  it("rejects a master key of the wrong size", () => {
    expect(() => new LocalKeyProvider(randomBytes(16))).toThrow("master key must be 32 bytes");
  });
});

describe("loadOrCreateLocalKeyProvider", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "carechain-key-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the key file with mode 0600 and reuses it after a restart", async () => {
    const path = join(dir, "data", "master.key");
    const first = loadOrCreateLocalKeyProvider(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "data")).mode & 0o777).toBe(0o700);
    expect(readFileSync(path, "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    expect(readdirSync(join(dir, "data"))).toEqual(["master.key"]);

    const wrapped = await first.wrap(Buffer.alloc(32, 7), "ctx");
    const second = loadOrCreateLocalKeyProvider(path);
    expect(second.id).toBe(first.id);
    expect(Buffer.from(await second.unwrap(wrapped, "ctx"))).toEqual(Buffer.alloc(32, 7));
  });

  it("refuses a key file others can read", () => {
    const path = join(dir, "master.key");
    writeFileSync(path, `${randomBytes(32).toString("hex")}\n`, { mode: 0o644 });
    chmodSync(path, 0o644);
    expect(() => loadOrCreateLocalKeyProvider(path)).toThrowErrorMatchingInlineSnapshot(
      `[CarechainError: master key file is readable by group or others: chmod 600 it]`,
    );
  });

  it("refuses a corrupt key file instead of replacing it", () => {
    const path = join(dir, "master.key");
    writeFileSync(path, "not a key\n", { mode: 0o600 });
    expect(() => loadOrCreateLocalKeyProvider(path)).toThrow(
      "master key file is corrupt: expected 64 hex characters",
    );
    expect(readFileSync(path, "utf8")).toBe("not a key\n");
  });
});
