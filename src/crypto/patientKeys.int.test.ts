import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { LocalKeyProvider } from "./keyProvider.js";
import { PatientKeyring } from "./patientKeys.js";

const alice = "0x00000000000000000000000000000000000000Aa";

describe.each(engines)("PatientKeyring erased-state cache on %s", (engine) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  it("answers isErased from memory, sees its own erase at once and another process's within the recheck window", async () => {
    t = await freshStore(engine);
    const provider = new LocalKeyProvider(randomBytes(32));
    let now = 1_000_000;
    const reader = new PatientKeyring(t.store, provider, { erasedRecheckMs: 2000, now: () => now });
    const other = new PatientKeyring(t.store, provider);
    await other.keyFor(alice);
    expect(await reader.isErased(alice)).toBe(false);

    await other.erase(alice);
    // Within the window the remembered answer stands (no query) ...
    now += 1999;
    expect(await reader.isErased(alice)).toBe(false);
    // ... after it, the database is asked again, and an erase is remembered for good.
    now += 2;
    expect(await reader.isErased(alice)).toBe(true);
    now += 3_600_000;
    expect(await reader.isErased(alice)).toBe(true);

    const bob = "0x00000000000000000000000000000000000000bB";
    expect(await reader.isErased(bob)).toBe(false);
    await reader.erase(bob);
    expect(await reader.isErased(bob)).toBe(true);
    await expect(reader.keyFor(bob)).rejects.toThrow(/erased/);
  });
});
