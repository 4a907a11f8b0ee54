import { createHmac, createSecretKey, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { sql } from "kysely";
import { isAddress } from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { Store } from "../store/database.js";
import type { KeyProvider } from "./keyProvider.js";

export interface PatientKeyringOptions {
  /** Unwrapped patient keys kept in memory, least recently used evicted first (default 10 000). */
  cacheSize?: number;
  /**
   * How long an unwrapped key may be used without looking at the database again (default 60 s).
   * Bounds how long another process on the same database keeps decrypting after an erase.
   */
  cacheTtlMs?: number;
  /**
   * How long "this patient is not erased" may be answered from memory (default 2 s). Bounds how
   * long another process on the same database keeps serving reads after an erase; an erase in
   * this process, and an erase seen once, are remembered for good.
   */
  erasedRecheckMs?: number;
  /** Clock in milliseconds since the epoch (tests). */
  now?: () => number;
}

export interface KeyForOptions {
  /** Create the patient's key if none exists (default true). Readers pass false. */
  create?: boolean;
}

interface CacheEntry {
  key: KeyObject;
  expiresAt: number;
  /** Records' data keys unwrapped with `key`, by wrapped form: they live and die with it. */
  dataKeys?: Map<string, Buffer>;
  /** Keys derived from `key`, by label: they live and die with it. */
  derived?: Map<string, Buffer>;
}

/** Unwrapped data keys kept per patient key; the map is wiped and restarted when full. */
const DATA_KEYS_PER_PATIENT = 1024;

const KEY_BYTES = 32;

/** The message every read of an erased patient's data fails with. */
export const ERASED_MESSAGE = "the patient's data was erased";

/**
 * Per-patient 256-bit keys, stored wrapped by a {@link KeyProvider} in `patient_keys`, unwrapped
 * once and cached. {@link PatientKeyring.erase} destroys a key for good (crypto-shredding): every
 * record encrypted under it becomes unreadable, in this process at once and in every other
 * process on the same database within `cacheTtlMs`. An erased patient never gets a new key.
 */
export class PatientKeyring {
  readonly #store: Store;
  readonly #provider: KeyProvider;
  readonly #cacheSize: number;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #loading = new Map<string, Promise<KeyObject>>();
  readonly #erasedRecheck: number;
  /** Patients known erased (true, for good) or seen not erased (the time of that check). */
  readonly #erased = new Map<string, true | number>();

  constructor(store: Store, provider: KeyProvider, options: PatientKeyringOptions = {}) {
    this.#store = store;
    this.#provider = provider;
    this.#cacheSize = Math.max(1, options.cacheSize ?? 10_000);
    this.#ttl = options.cacheTtlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#erasedRecheck = Math.max(0, options.erasedRecheckMs ?? 2000);
  }

  /**
   * The patient's AES-256 key, created on first use unless `create` is false.
   * @param patient - the patient's account address (any case)
   * @param options - `create: false` for read paths
   * @returns the key as a non-extractable-by-accident KeyObject
   * @throws BaseError("not-found") when the patient was erased, or has no key and `create` is false
   */
  async keyFor(patient: string, options: KeyForOptions = {}): Promise<KeyObject> {
    const id = normalizePatient(patient);
    const hit = this.#fresh(id);
    if (hit !== undefined) return hit.key;
    const create = options.create !== false;
    const pendingKey = `${id}:${create}`;
    const pending = this.#loading.get(pendingKey);
    if (pending) return pending;
    const load: Promise<KeyObject> = this.#load(id, create)
      .then((key) => {
        // An erase() that ran meanwhile removed this promise: do not resurrect the key.
        if (this.#loading.get(pendingKey) === load) this.#remember(id, key);
        return key;
      })
      .finally(() => {
        if (this.#loading.get(pendingKey) === load) this.#loading.delete(pendingKey);
      });
    this.#loading.set(pendingKey, load);
    return load;
  }

  /**
   * A record's data key (envelope encryption's second layer): unwrapped with the patient's key by
   * `unwrap` on first use, then kept beside the patient's key in memory, so it is forgotten with
   * it (erase, expiry, eviction) and never outlives it. Returns a copy the caller may wipe.
   * @param patient - the patient's key id
   * @param wrapped - a string naming the wrapped key and the record it belongs to
   * @param unwrap - unwraps (and authenticates) the data key with the patient's key
   * @throws whatever `keyFor` (erased patient, no key) or `unwrap` (altered bytes) throws
   */
  async dataKey(
    patient: string,
    wrapped: string,
    unwrap: (patientKey: KeyObject) => Buffer,
  ): Promise<Buffer> {
    const id = normalizePatient(patient);
    let entry = this.#fresh(id);
    if (entry === undefined) {
      const key = await this.keyFor(id, { create: false });
      entry = this.#fresh(id);
      // erased or evicted meanwhile: unwrap once, keep nothing
      if (entry?.key !== key) return unwrap(key);
    }
    const known = entry.dataKeys?.get(wrapped);
    if (known !== undefined) return Buffer.from(known);
    const unwrapped = unwrap(entry.key);
    entry.dataKeys ??= new Map();
    if (entry.dataKeys.size >= DATA_KEYS_PER_PATIENT) wipeDataKeys(entry);
    entry.dataKeys.set(wrapped, Buffer.from(unwrapped));
    return unwrapped;
  }

  /**
   * A key derived from the patient's key for one purpose (HMAC-SHA256 of `label` under the
   * patient's key), kept beside it in memory and forgotten with it, so it never outlives the
   * patient's key: after an erase it cannot be derived again. Never creates a patient key.
   * @param patient - the patient's key id
   * @param label - names the purpose, e.g. `carechain/category-mask/v1`
   * @returns 32 bytes, shared with the cache: callers must not modify it
   * @throws BaseError("not-found") when the patient was erased or has no key
   */
  async derivedKey(patient: string, label: string): Promise<Buffer> {
    const id = normalizePatient(patient);
    let entry = this.#fresh(id);
    if (entry === undefined) {
      const key = await this.keyFor(id, { create: false });
      entry = this.#fresh(id);
      // erased or evicted meanwhile: derive once, keep nothing
      if (entry?.key !== key) return derive(key, label);
    }
    const known = entry.derived?.get(label);
    if (known !== undefined) return known;
    const derived = derive(entry.key, label);
    (entry.derived ??= new Map()).set(label, derived);
    return derived;
  }

  /**
   * Crypto-shreds the patient: deletes the wrapped key, records when, and drops it from memory.
   * Idempotent; also marks a patient that never had a key, so none is created later.
   * @param patient - the patient's account address
   */
  async erase(patient: string): Promise<void> {
    const id = normalizePatient(patient);
    this.#forget(id);
    this.#erased.set(id, true);
    const { db, dialect } = this.#store;
    const now = this.#now();
    const update = db
      .insertInto("patient_keys")
      .values({
        patient: id,
        wrapped_key: null,
        provider_id: this.#provider.id,
        created_at: now,
        erased_at: now,
      })
      .onConflict((oc) =>
        oc.column("patient").doUpdateSet({
          wrapped_key: null,
          erased_at: sql<number>`coalesce(patient_keys.erased_at, excluded.erased_at)`,
        }),
      );
    if (dialect === "sqlite") {
      // SQLite keeps freed bytes in pages and old page images in the WAL unless told otherwise.
      const before = await sql<{ secure_delete: number }>`pragma secure_delete`.execute(db);
      const previous = [0, 1, 2].includes(before.rows[0]?.secure_delete ?? -1)
        ? before.rows[0]!.secure_delete
        : 0;
      await sql`pragma secure_delete = on`.execute(db);
      try {
        await update.execute();
        await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
      } finally {
        await sql.raw(`pragma secure_delete = ${previous}`).execute(db);
      }
    } else {
      await update.execute();
    }
    this.#forget(id);
  }

  /**
   * Whether the patient's key was erased.
   * @param patient - the patient's account address
   * @returns true once {@link PatientKeyring.erase} ran for the patient: in this process at once,
   *   in another process on the same database within `erasedRecheckMs`
   */
  async isErased(patient: string): Promise<boolean> {
    const id = normalizePatient(patient);
    const known = this.#erased.get(id);
    if (known === true) return true;
    const now = this.#now();
    if (known !== undefined && now - known < this.#erasedRecheck) return false;
    const row = await this.#store.db
      .selectFrom("patient_keys")
      .select("erased_at")
      .where("patient", "=", id)
      .executeTakeFirst();
    const erased = row?.erased_at !== undefined && row.erased_at !== null;
    // An erase() that ran meanwhile wins over this (older) answer.
    if (this.#erased.get(id) !== true) {
      this.#erased.delete(id);
      this.#erased.set(id, erased ? true : now);
      while (this.#erased.size > this.#cacheSize) {
        const oldest = this.#erased.keys().next();
        if (oldest.done) break;
        this.#erased.delete(oldest.value);
      }
    }
    return erased || this.#erased.get(id) === true;
  }

  async #load(id: string, create: boolean): Promise<KeyObject> {
    const { db } = this.#store;
    const select = () =>
      db
        .selectFrom("patient_keys")
        .select(["wrapped_key", "provider_id", "erased_at"])
        .where("patient", "=", id)
        .executeTakeFirst();
    let row = await select();
    if (!row) {
      if (!create) throw new BaseError("not-found", "no key exists for this patient");
      const fresh = randomBytes(KEY_BYTES);
      const wrapped = await this.#provider.wrap(fresh, wrapContext(id));
      fresh.fill(0);
      // Two creators racing: the first insert wins, both then use the stored key.
      await db
        .insertInto("patient_keys")
        .values({
          patient: id,
          wrapped_key: Buffer.from(wrapped),
          provider_id: this.#provider.id,
          created_at: this.#now(),
          erased_at: null,
        })
        .onConflict((oc) => oc.column("patient").doNothing())
        .execute();
      row = await select();
      if (!row) throw new BaseError("internal", "patient key vanished right after it was stored");
    }
    if (row.erased_at !== null || row.wrapped_key === null) {
      if (row.erased_at !== null) this.#erased.set(id, true);
      throw new BaseError("not-found", ERASED_MESSAGE);
    }
    if (row.provider_id !== this.#provider.id) {
      throw new BaseError("config", "patient key was wrapped by another master key", {
        details: `stored under ${row.provider_id}, this node uses ${this.#provider.id}`,
      });
    }
    const raw = Buffer.from(await this.#provider.unwrap(row.wrapped_key, wrapContext(id)));
    try {
      if (raw.length !== KEY_BYTES)
        throw new BaseError("internal", "unwrapped patient key has a wrong length");
      return createSecretKey(raw);
    } finally {
      raw.fill(0);
    }
  }

  /** The cached entry of a patient key id while it is within its TTL, marked most recently used. */
  #fresh(id: string): CacheEntry | undefined {
    const hit = this.#cache.get(id);
    if (hit === undefined || hit.expiresAt <= this.#now()) return undefined;
    this.#cache.delete(id);
    this.#cache.set(id, hit);
    return hit;
  }

  #remember(id: string, key: KeyObject): void {
    this.#cache.delete(id);
    this.#cache.set(id, { key, expiresAt: this.#now() + this.#ttl });
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.entries().next();
      if (oldest.done) break;
      wipe(oldest.value[1]);
      this.#cache.delete(oldest.value[0]);
    }
  }

  #forget(id: string): void {
    const entry = this.#cache.get(id);
    if (entry !== undefined) wipe(entry);
    this.#cache.delete(id);
    this.#loading.delete(`${id}:true`);
    this.#loading.delete(`${id}:false`);
  }
}

/** Zeroes and drops a cached patient key's data keys (best effort: copies handed out are the callers'). */
function wipe(entry: CacheEntry): void {
  wipeDataKeys(entry);
  // dropped, not zeroed: a caller may be between receiving one and using it
  entry.derived?.clear();
}

function wipeDataKeys(entry: CacheEntry): void {
  if (entry.dataKeys === undefined) return;
  for (const dek of entry.dataKeys.values()) dek.fill(0);
  entry.dataKeys.clear();
}

function derive(key: KeyObject, label: string): Buffer {
  return createHmac("sha256", key).update(label, "utf8").digest();
}

/** Patients are accounts: one canonical spelling, so no patient can end up with two keys. */
/** A patient's key id: their account address (lowercased) or their FHIR Patient reference `Patient/<id>`. */
const PATIENT_REFERENCE = /^Patient\/[A-Za-z0-9\-.]{1,64}$/;

function normalizePatient(patient: string): string {
  if (PATIENT_REFERENCE.test(patient)) return patient;
  if (!isAddress(patient, { strict: false })) {
    throw new BaseError("invalid", "patient must be an account address or a Patient reference", {
      expression: "patient",
    });
  }
  return patient.toLowerCase();
}

function wrapContext(patient: string): string {
  return `carechain/patient-key/v1/${patient}`;
}
