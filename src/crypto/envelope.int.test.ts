import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { BaseError } from "../errors/BaseError.js";
import { openStore } from "../store/database.js";
import { decryptRecord, encryptRecord, RECORD_OVERHEAD } from "./envelope.js";
import { LocalKeyProvider, loadOrCreateLocalKeyProvider, type KeyProvider } from "./keyProvider.js";
import { ERASED_MESSAGE, PatientKeyring } from "./patientKeys.js";

const alice = "0x1111111111111111111111111111111111111111";
const bob = "0x2222222222222222222222222222222222222222";
const carol = "0x3333333333333333333333333333333333333333";
const text = (s: string) => Buffer.from(s, "utf8");

async function rejection(promise: Promise<unknown>): Promise<BaseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BaseError);
  return error as BaseError;
}

/** Counts unwraps, to see what the keyring's cache saves. */
class CountingProvider implements KeyProvider {
  unwraps = 0;
  constructor(private readonly inner: KeyProvider) {}
  get id() {
    return this.inner.id;
  }
  wrap(key: Uint8Array, context: string) {
    return this.inner.wrap(key, context);
  }
  unwrap(wrapped: Uint8Array, context: string) {
    this.unwraps++;
    return this.inner.unwrap(wrapped, context);
  }
}

describe.each(engines)("envelope encryption on %s", (engine) => {
  let t: TestStore;
  let dir: string;
  let keyPath: string;
  let provider: LocalKeyProvider;
  let keyring: PatientKeyring;

  beforeEach(async () => {
    t = await freshStore(engine);
    dir = mkdtempSync(join(tmpdir(), "carechain-keys-"));
    keyPath = join(dir, "master.key");
    provider = loadOrCreateLocalKeyProvider(keyPath);
    keyring = new PatientKeyring(t.store, provider);
  });
  afterEach(async () => {
    await t.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("round-trips a record and hides it in a fresh blob each time", async () => {
    const plaintext = text('{"resourceType":"Observation","id":"123"}');
    const a = await encryptRecord(keyring, alice, plaintext, "Observation/123/_history/1");
    const b = await encryptRecord(keyring, alice, plaintext, "Observation/123/_history/1");
    expect(a.ciphertext.length).toBe(plaintext.length + RECORD_OVERHEAD);
    expect(a.ciphertext[0]).toBe(1);
    expect(Buffer.from(a.ciphertext)).not.toEqual(Buffer.from(b.ciphertext));
    expect(Buffer.from(a.ciphertext).includes(Buffer.from(plaintext))).toBe(false);
    const back = await decryptRecord(keyring, alice, a.ciphertext, "Observation/123/_history/1");
    expect(new TextDecoder().decode(back)).toBe('{"resourceType":"Observation","id":"123"}');
    const empty = await encryptRecord(keyring, alice, new Uint8Array(0), "Binary/1/_history/1");
    expect((await decryptRecord(keyring, alice, empty.ciphertext, "Binary/1/_history/1")).length).toBe(0);
  });

  it("binds a blob to its record: swapped blobs or data keys do not decrypt", async () => {
    const v1 = await encryptRecord(keyring, alice, text("one"), "Observation/123/_history/1");
    const v2 = await encryptRecord(keyring, alice, text("two"), "Observation/123/_history/2");
    const swapped = await rejection(
      decryptRecord(keyring, alice, v1.ciphertext, "Observation/123/_history/2"),
    );
    expect(swapped.message).toMatchInlineSnapshot(
      `"record decryption failed: wrong record, wrong patient, or altered bytes"`,
    );
    expect(swapped.kind).toBe("internal");
    // v2's data under v1's wrapped data key (and the other way round) fails too.
    const spliced = Buffer.concat([
      Buffer.from(v1.ciphertext).subarray(0, 61),
      Buffer.from(v2.ciphertext).subarray(61),
    ]);
    await rejection(decryptRecord(keyring, alice, spliced, "Observation/123/_history/2"));
    await rejection(decryptRecord(keyring, alice, spliced, "Observation/123/_history/1"));
    const flipped = Buffer.from(v2.ciphertext);
    flipped[flipped.length - 1]! ^= 0x01;
    await rejection(decryptRecord(keyring, alice, flipped, "Observation/123/_history/2"));
    const unknown = Buffer.from(v2.ciphertext);
    unknown[0] = 9;
    expect(
      (await rejection(decryptRecord(keyring, alice, unknown, "Observation/123/_history/2"))).message,
    ).toBe("encrypted record has an unknown format");
  });

  it("keeps patients' keys independent", async () => {
    const forAlice = await encryptRecord(keyring, alice, text("a"), "Observation/1/_history/1");
    await encryptRecord(keyring, bob, text("b"), "Observation/2/_history/1");
    const asBob = await rejection(
      decryptRecord(keyring, bob, forAlice.ciphertext, "Observation/1/_history/1"),
    );
    expect(asBob.kind).toBe("internal");
    const rows = await t.store.db.selectFrom("patient_keys").selectAll().orderBy("patient").execute();
    expect(rows.map((r) => r.patient)).toEqual([alice, bob]);
    expect(Buffer.from(rows[0]!.wrapped_key!)).not.toEqual(Buffer.from(rows[1]!.wrapped_key!));
    expect(rows.every((r) => r.provider_id === provider.id && r.erased_at === null)).toBe(true);
  });

  it("treats address case as one patient", async () => {
    const upper = `0x${"AB".repeat(20)}`;
    const blob = await encryptRecord(keyring, upper, text("x"), "Observation/9/_history/1");
    const fresh = new PatientKeyring(t.store, provider);
    expect(
      await decryptRecord(fresh, upper.toLowerCase(), blob.ciphertext, "Observation/9/_history/1"),
    ).toEqual(text("x"));
    expect((await rejection(keyring.keyFor("patient-123"))).kind).toBe("invalid");
  });

  it("crypto-shreds: erase makes existing ciphertext undecryptable, also after a restart", async () => {
    const blob = await encryptRecord(keyring, alice, text("secret"), "Observation/1/_history/1");
    const bobs = await encryptRecord(keyring, bob, text("kept"), "Observation/2/_history/1");
    expect(await keyring.isErased(alice)).toBe(false);

    await keyring.erase(alice);
    expect(await keyring.isErased(alice)).toBe(true);
    const denied = await rejection(
      decryptRecord(keyring, alice, blob.ciphertext, "Observation/1/_history/1"),
    );
    expect([denied.kind, denied.message]).toEqual(["not-found", ERASED_MESSAGE]);
    expect(
      (await rejection(encryptRecord(keyring, alice, text("new"), "Observation/3/_history/1"))).message,
    ).toBe(ERASED_MESSAGE);
    const row = await t.store.db
      .selectFrom("patient_keys")
      .selectAll()
      .where("patient", "=", alice)
      .executeTakeFirstOrThrow();
    expect(row.wrapped_key).toBeNull();
    expect(row.erased_at).toEqual(expect.any(Number));

    // A new process: same master key file, same database, empty caches.
    const reopened = await openStore(t.location);
    try {
      const restarted = new PatientKeyring(reopened, loadOrCreateLocalKeyProvider(keyPath));
      expect(await restarted.isErased(alice)).toBe(true);
      const still = await rejection(
        decryptRecord(restarted, alice, blob.ciphertext, "Observation/1/_history/1"),
      );
      expect([still.kind, still.message]).toEqual(["not-found", ERASED_MESSAGE]);
      expect(await decryptRecord(restarted, bob, bobs.ciphertext, "Observation/2/_history/1")).toEqual(
        text("kept"),
      );
    } finally {
      await reopened.close();
    }

    // Erasing again keeps the first erasure time.
    await keyring.erase(alice);
    const again = await t.store.db
      .selectFrom("patient_keys")
      .select("erased_at")
      .where("patient", "=", alice)
      .executeTakeFirstOrThrow();
    expect(again.erased_at).toBe(row.erased_at);
  });

  // a SQLite file property: registered for that engine only (PostgreSQL keeps dead rows until VACUUM)
  if (engine === "sqlite")
    it("leaves no copy of the erased wrapped key in the SQLite files", async () => {
      await encryptRecord(keyring, alice, text("secret"), "Observation/1/_history/1");
      const { wrapped_key } = await t.store.db
        .selectFrom("patient_keys")
        .select("wrapped_key")
        .executeTakeFirstOrThrow();
      const wrapped = Buffer.from(wrapped_key!);
      const path = t.location.sqlitePath!;
      const files = () => [path, `${path}-wal`].filter(existsSync).map((f) => readFileSync(f));
      expect(files().some((bytes) => bytes.includes(wrapped))).toBe(true);
      await keyring.erase(alice);
      expect(files().some((bytes) => bytes.includes(wrapped))).toBe(false);
    });

  it("keeps a record's unwrapped data key with the patient's key: reused, bound to the record, gone on erase", async () => {
    const sealed = await encryptRecord(keyring, alice, text("labs"), "Observation/1/1");
    const unwraps: number[] = [];
    const counting = {
      keyFor: keyring.keyFor.bind(keyring),
      dataKey: (patient: string, wrapped: string, unwrap: Parameters<PatientKeyring["dataKey"]>[2]) =>
        keyring.dataKey(patient, wrapped, (key) => {
          unwraps.push(1);
          return unwrap(key);
        }),
    };
    for (let i = 0; i < 3; i++) {
      expect(
        Buffer.from(await decryptRecord(counting, alice, sealed.ciphertext, "Observation/1/1")).toString(),
      ).toBe("labs");
    }
    expect(unwraps).toHaveLength(1);
    // the cached key is bound to the record identity and wrapped bytes: another AAD misses and fails
    expect((await rejection(decryptRecord(counting, alice, sealed.ciphertext, "Observation/2/1"))).kind).toBe(
      "internal",
    );
    const altered = Uint8Array.from(sealed.ciphertext);
    altered[RECORD_OVERHEAD - 1]! ^= 1;
    expect((await rejection(decryptRecord(counting, alice, altered, "Observation/1/1"))).kind).toBe(
      "internal",
    );
    await keyring.erase(alice);
    const error = await rejection(decryptRecord(counting, alice, sealed.ciphertext, "Observation/1/1"));
    expect([error.kind, error.message]).toEqual(["not-found", ERASED_MESSAGE]);
  });

  it("marks a patient erased before any key existed, and creates none later", async () => {
    await keyring.erase(carol);
    expect(await keyring.isErased(carol)).toBe(true);
    expect((await rejection(keyring.keyFor(carol))).message).toBe(ERASED_MESSAGE);
  });

  it("does not create a key on read for an unknown patient", async () => {
    const elsewhere = await encryptRecord(new PatientKeyring(t.store, provider), alice, text("x"), "A/1");
    const error = await rejection(decryptRecord(keyring, carol, elsewhere.ciphertext, "A/1"));
    expect([error.kind, error.message]).toEqual(["not-found", "no key exists for this patient"]);
    expect(
      await t.store.db.selectFrom("patient_keys").select("patient").where("patient", "=", carol).execute(),
    ).toEqual([]);
  });

  it("caches unwrapped keys in a bounded LRU with a time limit", async () => {
    let now = 1_000_000;
    const counting = new CountingProvider(provider);
    const ring = new PatientKeyring(t.store, counting, { cacheSize: 2, cacheTtlMs: 1000, now: () => now });
    const k1 = await ring.keyFor(alice);
    expect(await ring.keyFor(alice)).toBe(k1);
    await ring.keyFor(bob);
    expect(counting.unwraps).toBe(2);
    await ring.keyFor(alice); // alice is now the most recent, bob the least
    await ring.keyFor(carol); // evicts bob
    expect(counting.unwraps).toBe(3);
    await ring.keyFor(alice);
    expect(counting.unwraps).toBe(3);
    await ring.keyFor(bob);
    expect(counting.unwraps).toBe(4);
    now += 1001;
    await ring.keyFor(bob);
    expect(counting.unwraps).toBe(5);
  });

  it("creates exactly one key when many writers race, in one process or several", async () => {
    const other = new PatientKeyring(t.store, provider);
    const blobs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        encryptRecord(i % 2 ? keyring : other, alice, text(`r${i}`), `Observation/${i}/_history/1`),
      ),
    );
    const rows = await t.store.db.selectFrom("patient_keys").select("patient").execute();
    expect(rows).toHaveLength(1);
    const reader = new PatientKeyring(t.store, provider);
    for (const [i, blob] of blobs.entries()) {
      expect(await decryptRecord(reader, alice, blob.ciphertext, `Observation/${i}/_history/1`)).toEqual(
        text(`r${i}`),
      );
    }
  });

  it("refuses keys wrapped under another master key with a config error", async () => {
    await keyring.keyFor(alice);
    const stranger = new PatientKeyring(t.store, new LocalKeyProvider(randomBytes(32)));
    const error = await rejection(stranger.keyFor(alice));
    expect([error.kind, error.message]).toEqual(["config", "patient key was wrapped by another master key"]);
  });
});
