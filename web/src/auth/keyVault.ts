/**
 * Keys held in this browser: each private key is stored in IndexedDB encrypted with AES-GCM under a
 * key derived from the person's passphrase (PBKDF2-HMAC-SHA256). The passphrase and the plain key
 * are never stored; an unlocked key lives in memory until sign-out or reload.
 */
import { bytesToHex, hexToBytes, type Address, type Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";

const DB = "carechain";
const STORE = "keys";
/** PBKDF2 rounds (OWASP 2023 for PBKDF2-HMAC-SHA256). */
const ROUNDS = 600_000;

export interface StoredKey {
  address: Address;
  label: string;
  salt: Hex;
  iv: Hex;
  rounds: number;
  ciphertext: Hex;
  createdAt: string;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "address" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () =>
      reject(new Error("This browser does not let the app store keys (IndexedDB is unavailable)."));
  });
}

async function tx<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = run(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(new Error("Could not read or write the key store of this browser."));
    });
  } finally {
    db.close();
  }
}

async function wrappingKey(passphrase: string, salt: Uint8Array, rounds: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt: salt.slice().buffer as ArrayBuffer, iterations: rounds },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export function listKeys(): Promise<StoredKey[]> {
  return tx("readonly", (s) => s.getAll() as IDBRequest<StoredKey[]>);
}

/** Encrypts `privateKey` under `passphrase` and stores it; returns its address. */
export async function storeKey(
  privateKey: Hex,
  passphrase: string,
  label: string,
  rounds = ROUNDS,
): Promise<Address> {
  if (passphrase.length < 8) throw new Error("Choose a passphrase of at least 8 characters.");
  const address = privateKeyToAddress(privateKey);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await wrappingKey(passphrase, salt, rounds);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(address) },
      key,
      hexToBytes(privateKey).slice().buffer as ArrayBuffer,
    ),
  );
  const record: StoredKey = {
    address,
    label,
    salt: bytesToHex(salt),
    iv: bytesToHex(iv),
    rounds,
    ciphertext: bytesToHex(ciphertext),
    createdAt: new Date().toISOString(),
  };
  await tx("readwrite", (s) => s.put(record));
  return address;
}

/** Decrypts a stored key; a wrong passphrase fails the AES-GCM tag and says so. */
export async function unlockKey(stored: StoredKey, passphrase: string): Promise<Hex> {
  const key = await wrappingKey(passphrase, hexToBytes(stored.salt), stored.rounds);
  try {
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: hexToBytes(stored.iv).slice().buffer as ArrayBuffer,
        additionalData: new TextEncoder().encode(stored.address),
      },
      key,
      hexToBytes(stored.ciphertext).slice().buffer as ArrayBuffer,
    );
    return bytesToHex(new Uint8Array(plain));
  } catch {
    throw new Error("Wrong passphrase.");
  }
}

export function forgetKey(address: Address): Promise<undefined> {
  return tx("readwrite", (s) => s.delete(address) as IDBRequest<undefined>);
}
