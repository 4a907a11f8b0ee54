import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { BaseError } from "../errors/BaseError.js";

/**
 * Wraps and unwraps data keys under a master key the caller never sees, in the shape of a cloud
 * KMS (AWS KMS Encrypt/Decrypt with an encryption context, GCP KMS with additional authenticated
 * data). `context` is bound to the wrapped key: unwrapping under another context fails.
 */
export interface KeyProvider {
  /** Stable name of the master key; changes when the master key changes. Safe to store and log. */
  readonly id: string;
  wrap(plaintextKey: Uint8Array, context: string): Promise<Uint8Array>;
  unwrap(wrapped: Uint8Array, context: string): Promise<Uint8Array>;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
const KEY_BYTES = 32;

/** A KeyProvider whose 256-bit master key is held in this process (loaded from a local file). */
export class LocalKeyProvider implements KeyProvider {
  readonly id: string;
  readonly #key: KeyObject;

  /** @param masterKey - 32 random bytes; copied, so the caller may zero its buffer afterwards */
  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== KEY_BYTES) {
      throw new BaseError("config", `master key must be ${KEY_BYTES} bytes`, {
        details: `got ${masterKey.length}`,
      });
    }
    this.#key = createSecretKey(Buffer.from(masterKey));
    const fingerprint = createHash("sha256").update("carechain/master-key-id/v1\0").update(masterKey);
    this.id = `local:${fingerprint.digest("hex").slice(0, 16)}`;
  }

  /**
   * AES-256-GCM under the master key with a random 96-bit IV and `context` as AAD
   * (NIST SP 800-38D). Output: version(1) || iv(12) || tag(16) || ciphertext.
   * @param plaintextKey - the key to protect
   * @param context - what the key belongs to; must be given again to unwrap
   * @returns the self-describing wrapped key
   */
  wrap(plaintextKey: Uint8Array, context: string): Promise<Uint8Array> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintextKey), cipher.final()]);
    return Promise.resolve(Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), ciphertext]));
  }

  /**
   * Reverses {@link LocalKeyProvider.wrap}.
   * @param wrapped - output of `wrap`
   * @param context - the context given to `wrap`
   * @returns the plaintext key
   * @throws BaseError("internal") when the master key, the context or the bytes do not match
   */
  unwrap(wrapped: Uint8Array, context: string): Promise<Uint8Array> {
    if (wrapped.length < HEADER_BYTES || wrapped[0] !== VERSION) {
      return Promise.reject(new BaseError("internal", "wrapped key has an unknown format"));
    }
    const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, bytes.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(bytes.subarray(1 + IV_BYTES, HEADER_BYTES));
      return Promise.resolve(
        Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES)), decipher.final()]),
      );
    } catch (cause) {
      return Promise.reject(
        new BaseError("internal", "key unwrap failed: wrong master key, wrong context, or altered bytes", {
          details: `provider ${this.id}`,
          cause,
        }),
      );
    }
  }
}

/**
 * Loads the node's master key from `path`, creating it (32 random bytes, hex, mode 0600, parent
 * directory 0700) on first use. Refuses a key file that group or others can read.
 * @param path - key file, normally `<data dir>/master.key`
 * @returns a provider wrapping under that key
 */
export function loadOrCreateLocalKeyProvider(path: string): LocalKeyProvider {
  const key = readKeyFile(path) ?? createKeyFile(path);
  try {
    return new LocalKeyProvider(key);
  } finally {
    key.fill(0);
  }
}

function createKeyFile(path: string): Buffer {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  // Write a complete temporary file, then link it into place: link() fails if the key file exists,
  // so two processes starting together agree on one key and nobody ever reads a half-written file.
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const fd = openSync(temp, "wx", 0o600);
    try {
      writeSync(fd, `${key.toString("hex")}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, path);
    return key;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") {
      const existing = readKeyFile(path);
      if (existing) return existing;
    }
    throw new BaseError("config", "cannot create the master key file", { details: path, cause });
  } finally {
    rmSync(temp, { force: true });
  }
}

function readKeyFile(path: string): Buffer | undefined {
  let text: string;
  try {
    if (process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0) {
      throw new BaseError("config", "master key file is readable by group or others: chmod 600 it", {
        details: path,
      });
    }
    text = readFileSync(path, "utf8").trim();
  } catch (cause) {
    if (cause instanceof BaseError) throw cause;
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new BaseError("config", "cannot read the master key file", { details: path, cause });
  }
  if (!/^[0-9a-f]{64}$/i.test(text)) {
    throw new BaseError("config", "master key file is corrupt: expected 64 hex characters", {
      details: path,
    });
  }
  return Buffer.from(text, "hex");
}
