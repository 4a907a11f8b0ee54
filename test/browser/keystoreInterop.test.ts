/**
 * The web app's keystore files and the CLI's are the same format: a file the browser exports
 * (PBKDF2, WebCrypto) opens with the CLI's reader, and a file the CLI writes (scrypt) opens in the
 * web app. Runs the browser module on Node's WebCrypto (the same API).
 */
import { generatePrivateKey } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { createKeystore, decryptKeystore } from "../../src/crypto/keystore.js";
import { exportKeystore, importKeystore } from "../../web/src/auth/keystoreFile.js";

describe("keystore files between the web app and the CLI", () => {
  it("a browser export opens with the CLI's reader, and only with its password", async () => {
    const key = generatePrivateKey();
    const file = JSON.parse(await exportKeystore(key, "browser pass 1", 1000)) as unknown;
    expect(await decryptKeystore(file, "browser pass 1")).toBe(key);
    await expect(decryptKeystore(file, "wrong password")).rejects.toThrow();
  });

  it("a CLI keystore (scrypt) imports in the web app, and a wrong password is refused in words", async () => {
    const key = generatePrivateKey();
    const file = JSON.stringify(await createKeystore(key, "cli password 1", { n: 1024 }));
    expect(await importKeystore(file, "cli password 1")).toBe(key);
    await expect(importKeystore(file, "nope nope")).rejects.toThrow("Wrong passphrase for this keystore.");
  });
});
