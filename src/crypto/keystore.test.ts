import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAddress } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BaseError } from "../errors/BaseError.js";
import {
  createKeystore,
  decryptKeystore,
  parseKeystore,
  readKeystoreFile,
  writeKeystoreFile,
} from "./keystore.js";

// anvil's first dev account: public knowledge, never used for anything real.
const devKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const fast = { n: 2 ** 14 };

// The test vectors of the Web3 Secret Storage Definition (password "testpassword").
const vectorKey = "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
const scryptVector = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "83dbcc02d8ccb40e466191a123791e0e" },
    ciphertext: "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    kdf: "scrypt",
    kdfparams: {
      dklen: 32,
      n: 262144,
      r: 1,
      p: 8,
      salt: "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
    },
    mac: "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};
const pbkdf2Vector = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
    ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    kdf: "pbkdf2",
    kdfparams: {
      c: 262144,
      dklen: 32,
      prf: "hmac-sha256",
      salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
    },
    mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};

async function rejection(promise: Promise<unknown>): Promise<BaseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BaseError);
  return error as BaseError;
}

describe("Web3 Secret Storage keystore", () => {
  it("decrypts the spec's scrypt and pbkdf2 test vectors", async () => {
    expect(await decryptKeystore(scryptVector, "testpassword")).toBe(vectorKey);
    expect(await decryptKeystore(JSON.stringify(pbkdf2Vector), "testpassword")).toBe(vectorKey);
  });

  it("reproduces the scrypt vector from its salt and IV", async () => {
    const made = await createKeystore(vectorKey, "testpassword", {
      n: 262144,
      r: 1,
      p: 8,
      salt: Buffer.from(scryptVector.crypto.kdfparams.salt, "hex"),
      iv: Buffer.from(scryptVector.crypto.cipherparams.iv, "hex"),
      id: scryptVector.id,
    });
    expect(made.crypto).toEqual(scryptVector.crypto);
    expect(made.address).toBe(privateKeyToAddress(vectorKey).slice(2).toLowerCase());
  });

  it("round-trips with a fresh salt, IV and id each time", async () => {
    const a = await createKeystore(devKey, "correct horse", fast);
    const b = await createKeystore(devKey, "correct horse", fast);
    expect(a).toMatchObject({ version: 3, address: "f39fd6e51aad88f6f4ce6ab8827279cfffb92266" });
    expect(a.crypto).toMatchObject({
      cipher: "aes-128-ctr",
      kdf: "scrypt",
      kdfparams: { n: 16384, r: 8, p: 1 },
    });
    expect(a.crypto.ciphertext).not.toBe(b.crypto.ciphertext);
    expect(a.id).not.toBe(b.id);
    expect(await decryptKeystore(JSON.parse(JSON.stringify(a)), "correct horse")).toBe(devKey);
  });

  it("defaults to scrypt n = 2^17", async () => {
    const made = await createKeystore(devKey, "pw");
    expect(made.crypto.kdfparams).toMatchObject({ n: 131072, r: 8, p: 1, dklen: 32 });
  });

  it("rejects a wrong password and an altered ciphertext alike", async () => {
    const ks = await createKeystore(devKey, "right", fast);
    const wrong = await rejection(decryptKeystore(ks, "wrong"));
    expect([wrong.kind, wrong.message]).toEqual(["unauthenticated", "wrong keystore password"]);
    const flipped = ks.crypto.ciphertext.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    const tampered = { ...ks, crypto: { ...ks.crypto, ciphertext: flipped } };
    expect((await rejection(decryptKeystore(tampered, "right"))).message).toBe("wrong keystore password");
  });

  it("rejects a keystore whose address was edited", async () => {
    const ks = await createKeystore(devKey, "pw", fast);
    const edited = { ...ks, address: "70997970c51812dc3a010c7d01b50e0d17dc79c8" };
    expect((await rejection(decryptKeystore(edited, "pw"))).message).toBe(
      "keystore address does not match its key",
    );
  });

  it("accepts geth's capitalized Crypto member", async () => {
    const { crypto, ...rest } = scryptVector;
    expect(parseKeystore({ ...rest, Crypto: crypto }).crypto.kdf).toBe("scrypt");
  });

  it.each([
    ["not JSON", "{", "keystore is not valid JSON"],
    ["version 1", { ...scryptVector, version: 1 }, "not a Web3 Secret Storage v3 keystore"],
    [
      "unknown cipher",
      { ...scryptVector, crypto: { ...scryptVector.crypto, cipher: "aes-128-cbc" } },
      "not a Web3",
    ],
    ["short mac", { ...scryptVector, crypto: { ...scryptVector.crypto, mac: "abcd" } }, "not a Web3"],
    [
      "n not a power of two",
      {
        ...scryptVector,
        crypto: { ...scryptVector.crypto, kdfparams: { ...scryptVector.crypto.kdfparams, n: 1000 } },
      },
      "not a Web3",
    ],
    [
      "memory bomb",
      {
        ...scryptVector,
        crypto: { ...scryptVector.crypto, kdfparams: { ...scryptVector.crypto.kdfparams, n: 2 ** 24, r: 8 } },
      },
      "not a Web3",
    ],
  ])("rejects a keystore with %s as invalid", async (_name, json, message) => {
    const error = await rejection(decryptKeystore(json, "testpassword"));
    expect(error.kind).toBe("invalid");
    expect(error.message).toContain(message);
  });

  it("explains a bad shape in the details", () => {
    let caught: unknown;
    try {
      parseKeystore({ version: 3, id: "x", crypto: { kdf: "scrypt" } });
    } catch (e) {
      caught = e;
    }
    expect((caught as BaseError).details).toContain("crypto.cipher");
  });

  it("refuses invalid private keys", async () => {
    expect((await rejection(createKeystore("0x1234", "pw", fast))).message).toBe(
      "private key must be 32 bytes of 0x-prefixed hex",
    );
    expect((await rejection(createKeystore(`0x${"0".repeat(64)}`, "pw", fast))).message).toBe(
      "private key is out of range for secp256k1",
    );
    expect((await rejection(createKeystore(`0x${"f".repeat(64)}`, "pw", fast))).kind).toBe("invalid");
  });
});

describe("keystore files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "carechain-keystore-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes mode 0600, reads back, and refuses to overwrite unless forced", async () => {
    const path = join(dir, "keystore", "node.json");
    const written = await writeKeystoreFile(path, devKey, "pw", fast);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(written);
    expect(await readKeystoreFile(path, "pw")).toBe(devKey);

    const other = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    const refused = await rejection(writeKeystoreFile(path, other, "pw", fast));
    expect([refused.kind, refused.message]).toEqual(["conflict", "keystore file already exists"]);
    expect(await readKeystoreFile(path, "pw")).toBe(devKey);

    await writeKeystoreFile(path, other, "pw2", { ...fast, force: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await readKeystoreFile(path, "pw2")).toBe(other);
  });

  it("reports missing, corrupt and wrong-password files clearly", async () => {
    const missing = await rejection(readKeystoreFile(join(dir, "nope.json"), "pw"));
    expect([missing.kind, missing.message]).toEqual(["not-found", "keystore file not found"]);

    const corrupt = join(dir, "corrupt.json");
    writeFileSync(corrupt, '{"version":3,"id":"x","crypto":{}}');
    const bad = await rejection(readKeystoreFile(corrupt, "pw"));
    expect([bad.kind, bad.message]).toEqual([
      "invalid",
      "corrupt keystore file: not a Web3 Secret Storage v3 keystore",
    ]);
    expect(bad.details).toContain(corrupt);

    const path = join(dir, "k.json");
    await writeKeystoreFile(path, devKey, "pw", fast);
    expect((await rejection(readKeystoreFile(path, "PW"))).kind).toBe("unauthenticated");
  });
});
