import {
  createCipheriv,
  createDecipheriv,
  pbkdf2,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import { existsSync } from "node:fs";
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { bytesToHex, keccak256, type Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { BYTES32_PATTERN } from "../model/schemas.js";

/** scrypt cost for new keystores: 128 MiB and about 0.6 s here (geth's "standard" is 2^18). */
export const DEFAULT_SCRYPT_N = 2 ** 17;

const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
// A hostile or corrupt file must not make us allocate gigabytes or spin for minutes.
const MAX_SCRYPT_MEMORY = 2 ** 30;
const MAX_PBKDF2_ROUNDS = 10_000_000;

const hex = (bytes?: number) =>
  z
    .string()
    .regex(bytes === undefined ? /^(0x)?([0-9a-fA-F]{2})+$/ : new RegExp(`^(0x)?[0-9a-fA-F]{${bytes * 2}}$`))
    .transform((s) => s.replace(/^0x/, "").toLowerCase());

const common = {
  cipher: z.literal("aes-128-ctr"),
  cipherparams: z.object({ iv: hex(16) }),
  ciphertext: hex(32),
  mac: hex(32),
};

const scryptParams = z
  .object({
    dklen: z.number().int().min(32).max(64),
    n: z
      .number()
      .int()
      .min(2)
      .refine((n) => Number.isInteger(Math.log2(n)), "n must be a power of two"),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
    salt: hex(),
  })
  .refine((k) => 128 * k.n * k.r <= MAX_SCRYPT_MEMORY, "scrypt parameters need more than 1 GiB of memory");

const pbkdf2Params = z.object({
  dklen: z.number().int().min(32).max(64),
  c: z.number().int().min(1).max(MAX_PBKDF2_ROUNDS),
  prf: z.literal("hmac-sha256"),
  salt: hex(),
});

const keystoreSchema = z.object({
  version: z.literal(3),
  id: z.string(),
  address: hex(20).optional(),
  crypto: z.discriminatedUnion("kdf", [
    z.object({ ...common, kdf: z.literal("scrypt"), kdfparams: scryptParams }),
    z.object({ ...common, kdf: z.literal("pbkdf2"), kdfparams: pbkdf2Params }),
  ]),
});

/** A parsed Web3 Secret Storage v3 keystore (hex fields without 0x, lowercase). */
export type Keystore = z.output<typeof keystoreSchema>;

export interface CreateKeystoreOptions {
  /** scrypt CPU/memory cost, a power of two (default {@link DEFAULT_SCRYPT_N}). */
  n?: number;
  /** scrypt block size (default 8). */
  r?: number;
  /** scrypt parallelism (default 1). */
  p?: number;
  /** Fixed salt and IV: only to reproduce test vectors; never reuse them for real keys. */
  salt?: Uint8Array;
  iv?: Uint8Array;
  id?: string;
}

/**
 * Encrypts an Ethereum private key into a Web3 Secret Storage v3 keystore (scrypt, aes-128-ctr,
 * keccak256 MAC), readable by geth, ethers and viem tooling.
 * See https://ethereum.org/developers/docs/data-structures-and-encoding/web3-secret-storage/
 * @param privateKey - 0x-prefixed 32-byte secp256k1 private key
 * @param password - the password; its UTF-8 bytes feed the KDF unchanged (as geth does)
 * @param options - scrypt cost and, for test vectors only, fixed salt/iv/id
 * @returns the keystore object, ready for `JSON.stringify`
 */
export async function createKeystore(
  privateKey: Hex,
  password: string,
  options: CreateKeystoreOptions = {},
): Promise<Keystore> {
  assertPrivateKey(privateKey);
  const key = Buffer.from(privateKey.slice(2), "hex");
  const kdfparams = {
    dklen: 32,
    n: options.n ?? DEFAULT_SCRYPT_N,
    r: options.r ?? 8,
    p: options.p ?? 1,
    salt: Buffer.from(options.salt ?? randomBytes(32)).toString("hex"),
  };
  const parsedParams = scryptParams.safeParse(kdfparams);
  if (!parsedParams.success) {
    throw new BaseError("invalid", "bad scrypt parameters", { details: z.prettifyError(parsedParams.error) });
  }
  const iv = Buffer.from(options.iv ?? randomBytes(16));
  const derived = await scryptKey(password, kdfparams);
  const cipher = createCipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(key), cipher.final()]);
  const keystore: Keystore = {
    version: 3,
    id: options.id ?? randomUUID(),
    address: privateKeyToAddress(privateKey).slice(2).toLowerCase(),
    crypto: {
      cipher: "aes-128-ctr",
      cipherparams: { iv: iv.toString("hex") },
      ciphertext: ciphertext.toString("hex"),
      kdf: "scrypt",
      kdfparams,
      mac: mac(derived, ciphertext).toString("hex"),
    },
  };
  derived.fill(0);
  key.fill(0);
  return keystore;
}

/**
 * Checks that `json` is a Web3 Secret Storage v3 keystore.
 * @param json - the keystore as text or as parsed JSON
 * @returns the keystore with normalized hex fields
 * @throws BaseError("invalid") saying what is wrong with the file
 */
export function parseKeystore(json: unknown): Keystore {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (cause) {
      throw new BaseError("invalid", "keystore is not valid JSON", { cause });
    }
  }
  // Go's JSON decoding is case-insensitive, so geth reads (and old tools wrote) "Crypto".
  if (value !== null && typeof value === "object" && !("crypto" in value) && "Crypto" in value) {
    const { Crypto, ...rest } = value as Record<string, unknown>;
    value = { ...rest, crypto: Crypto };
  }
  const parsed = keystoreSchema.safeParse(value);
  if (!parsed.success) {
    throw new BaseError("invalid", "not a Web3 Secret Storage v3 keystore", {
      details: z.prettifyError(parsed.error),
    });
  }
  return parsed.data;
}

/**
 * Decrypts a Web3 Secret Storage v3 keystore (scrypt or pbkdf2, aes-128-ctr).
 * See https://ethereum.org/developers/docs/data-structures-and-encoding/web3-secret-storage/
 * @param json - the keystore as text or as parsed JSON
 * @param password - the password it was created with
 * @returns the 0x-prefixed private key
 * @throws BaseError("unauthenticated", "wrong keystore password") when the MAC does not match
 *   (a wrong password and an altered ciphertext look the same); BaseError("invalid") for a
 *   malformed keystore or one whose address does not match its key
 */
export async function decryptKeystore(json: unknown, password: string): Promise<Hex> {
  const { crypto, address } = parseKeystore(json);
  const derived =
    crypto.kdf === "scrypt"
      ? await scryptKey(password, crypto.kdfparams)
      : await promisify(pbkdf2)(
          Buffer.from(password, "utf8"),
          Buffer.from(crypto.kdfparams.salt, "hex"),
          crypto.kdfparams.c,
          crypto.kdfparams.dklen,
          "sha256",
        );
  const ciphertext = Buffer.from(crypto.ciphertext, "hex");
  try {
    if (!timingSafeEqual(mac(derived, ciphertext), Buffer.from(crypto.mac, "hex"))) {
      throw new BaseError("unauthenticated", "wrong keystore password");
    }
    const decipher = createDecipheriv(
      "aes-128-ctr",
      derived.subarray(0, 16),
      Buffer.from(crypto.cipherparams.iv, "hex"),
    );
    const key = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    const privateKey = bytesToHex(key);
    key.fill(0);
    assertPrivateKey(privateKey);
    if (address !== undefined && privateKeyToAddress(privateKey).slice(2).toLowerCase() !== address) {
      throw new BaseError("invalid", "keystore address does not match its key");
    }
    return privateKey;
  } finally {
    derived.fill(0);
  }
}

async function scryptKey(
  password: string,
  k: { dklen: number; n: number; r: number; p: number; salt: string },
) {
  const passwordBytes = Buffer.from(password, "utf8");
  const salt = Buffer.from(k.salt, "hex");
  const maxmem = 128 * k.r * (k.n + k.p + 2) + 2 ** 20;
  // OpenSSL enforces RFC 7914's N < 2^(16 r), which some keystores break (the spec's own vector
  // has r = 1, N = 2^18); those take noble's audited pure-JS scrypt instead of the native one.
  if (Math.log2(k.n) >= 16 * k.r) {
    const { scryptAsync } = await import("@noble/hashes/scrypt");
    return Buffer.from(
      await scryptAsync(passwordBytes, salt, { N: k.n, r: k.r, p: k.p, dkLen: k.dklen, maxmem }),
    );
  }
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(passwordBytes, salt, k.dklen, { N: k.n, r: k.r, p: k.p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export interface WriteKeystoreOptions extends CreateKeystoreOptions {
  /** Replace an existing file (default false: refuse). */
  force?: boolean;
}

/**
 * Encrypts `privateKey` and writes the keystore to `path` with mode 0600 (parent directory 0700),
 * atomically. Refuses to replace an existing file unless `force` is set.
 * @param path - where to write, e.g. `<data dir>/keystore/<address>.json`
 * @param privateKey - 0x-prefixed private key
 * @param password - the keystore password
 * @param options - scrypt cost; `force` to overwrite
 * @returns the keystore written
 * @throws BaseError("conflict") when the file exists and `force` is not set
 */
export async function writeKeystoreFile(
  path: string,
  privateKey: Hex,
  password: string,
  options: WriteKeystoreOptions = {},
): Promise<Keystore> {
  const { force = false, ...createOptions } = options;
  const exists = () => new BaseError("conflict", "keystore file already exists", { details: path });
  // Fail before spending half a second in scrypt.
  if (!force && existsSync(path)) throw exists();
  const keystore = await createKeystore(privateKey, password, createOptions);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(keystore, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    if (force) {
      await rename(temp, path);
    } else {
      // link() fails when the target exists, unlike rename(): no race with another writer.
      await link(temp, path).catch((cause: unknown) => {
        throw (cause as NodeJS.ErrnoException).code === "EEXIST" ? exists() : cause;
      });
    }
  } finally {
    await rm(temp, { force: true });
  }
  return keystore;
}

/**
 * Reads and decrypts a keystore file.
 * @param path - the keystore file
 * @param password - its password
 * @returns the 0x-prefixed private key
 * @throws BaseError("not-found") for a missing file, BaseError("invalid") for a corrupt one,
 *   BaseError("unauthenticated") for a wrong password
 */
export async function readKeystoreFile(path: string, password: string): Promise<Hex> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
      throw new BaseError("not-found", "keystore file not found", { details: path, cause });
    }
    throw new BaseError("unavailable", "cannot read keystore file", { details: path, cause });
  }
  try {
    return await decryptKeystore(text, password);
  } catch (error) {
    if (error instanceof BaseError && error.kind === "invalid") {
      throw new BaseError("invalid", `corrupt keystore file: ${error.message}`, {
        details: [path, error.details].filter(Boolean).join("\n"),
        cause: error,
      });
    }
    throw error;
  }
}

/** keccak256(derivedKey[16..32] || ciphertext), per the spec. */
function mac(derived: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.from(keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext]), "bytes"));
}

function assertPrivateKey(privateKey: string): void {
  if (!BYTES32_PATTERN.test(privateKey)) {
    throw new BaseError("invalid", "private key must be 32 bytes of 0x-prefixed hex");
  }
  const k = BigInt(privateKey);
  if (k === 0n || k >= SECP256K1_ORDER)
    throw new BaseError("invalid", "private key is out of range for secp256k1");
}
