/**
 * Keystore files the CLI reads and writes (`carechain keys`, src/crypto/keystore.ts): Web3 Secret
 * Storage v3, AES-128-CTR with a keccak256 MAC. The browser writes the PBKDF2-HMAC-SHA256 variant
 * (WebCrypto has PBKDF2, not scrypt) and reads both (scrypt through @noble/hashes).
 * https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/
 */
import { scryptAsync } from "@noble/hashes/scrypt";
import { bytesToHex, concat, hexToBytes, keccak256, type Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";

/** PBKDF2 rounds of exported files (the CLI accepts up to 10,000,000). */
export const EXPORT_ROUNDS = 600_000;

const buf = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer as ArrayBuffer;

async function pbkdf2(password: string, salt: Uint8Array, rounds: number, bits = 256): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  return new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt: buf(salt), iterations: rounds },
      base,
      bits,
    ),
  );
}

async function aesCtr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", buf(key), "AES-CTR", false, ["encrypt"]);
  return new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-CTR", counter: buf(iv), length: 128 }, k, buf(data)),
  );
}

const strip = (h: Hex) => h.slice(2);

/** A v3 keystore of `privateKey` under `password`, as JSON text the CLI's `--keystore` reads. */
export async function exportKeystore(
  privateKey: Hex,
  password: string,
  rounds = EXPORT_ROUNDS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const derived = await pbkdf2(password, salt, rounds);
  const ciphertext = await aesCtr(derived.subarray(0, 16), iv, hexToBytes(privateKey));
  const mac = keccak256(concat([derived.subarray(16, 32), ciphertext]));
  return JSON.stringify(
    {
      version: 3,
      id: crypto.randomUUID(),
      address: strip(privateKeyToAddress(privateKey)).toLowerCase(),
      crypto: {
        cipher: "aes-128-ctr",
        cipherparams: { iv: strip(bytesToHex(iv)) },
        ciphertext: strip(bytesToHex(ciphertext)),
        kdf: "pbkdf2",
        kdfparams: { dklen: 32, c: rounds, prf: "hmac-sha256", salt: strip(bytesToHex(salt)) },
        mac: strip(mac),
      },
    },
    null,
    2,
  );
}

interface V3 {
  version: number;
  crypto: {
    cipher: string;
    cipherparams: { iv: string };
    ciphertext: string;
    kdf: "pbkdf2" | "scrypt";
    kdfparams: { dklen: number; c?: number; prf?: string; n?: number; r?: number; p?: number; salt: string };
    mac: string;
  };
}

const hex = (s: string): Uint8Array => hexToBytes(`0x${s.replace(/^0x/, "")}`);

/** The private key in a v3 keystore file (from the CLI or this app); throws a plain-words error. */
export async function importKeystore(text: string, password: string): Promise<Hex> {
  let file: V3;
  try {
    file = JSON.parse(text) as V3;
  } catch {
    throw new Error("This file is not a keystore (it is not JSON).");
  }
  const c = file.crypto;
  if (file.version !== 3 || c?.cipher !== "aes-128-ctr")
    throw new Error("This keystore format is not supported (expected a version 3 keystore).");
  const p = c.kdfparams;
  let derived: Uint8Array;
  if (c.kdf === "pbkdf2" && p.prf === "hmac-sha256" && p.c !== undefined && p.c <= 10_000_000) {
    derived = await pbkdf2(password, hex(p.salt), p.c, p.dklen * 8);
  } else if (
    c.kdf === "scrypt" &&
    p.n !== undefined &&
    p.r !== undefined &&
    p.p !== undefined &&
    128 * p.n * p.r <= 2 ** 30
  ) {
    derived = await scryptAsync(new TextEncoder().encode(password), hex(p.salt), {
      N: p.n,
      r: p.r,
      p: p.p,
      dkLen: p.dklen,
    });
  } else {
    throw new Error("This keystore's key derivation is not supported.");
  }
  const ciphertext = hex(c.ciphertext);
  if (
    strip(keccak256(concat([derived.subarray(16, 32), ciphertext]))) !==
    c.mac.toLowerCase().replace(/^0x/, "")
  )
    throw new Error("Wrong passphrase for this keystore.");
  return bytesToHex(await aesCtr(derived.subarray(0, 16), hex(c.cipherparams.iv), ciphertext));
}
