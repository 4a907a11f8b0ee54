import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { readKeystoreFile, writeKeystoreFile } from "../crypto/keystore.js";
import { BaseError } from "../errors/BaseError.js";
import { hexBytes } from "../model/schemas.js";

const privateKeySchema = hexBytes(32, "a 0x-prefixed 32-byte hex private key");

/** Where a user's keystore lives: --keystore, CARECHAIN_KEYSTORE, or ./carechain-key.json. */
export function keystorePath(option: string | undefined): string {
  return resolve(option ?? process.env.CARECHAIN_KEYSTORE ?? "carechain-key.json");
}

/** The keystore password: CARECHAIN_PASSWORD (the CLI never takes it as an argument: shell history). */
export function keystorePassword(): string {
  const password = process.env.CARECHAIN_PASSWORD;
  if (!password || password.length < 8) {
    throw new BaseError(
      "invalid",
      "set CARECHAIN_PASSWORD (at least 8 characters) to encrypt or open the keystore",
    );
  }
  return password;
}

/** `carechain keys create|import|show`: the encrypted keystore a patient or practitioner signs with. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command("keys").description("manage your encrypted signing key");
  keys
    .command("create")
    .description("create a new key in an encrypted keystore file")
    .option("--keystore <file>", "keystore file (env CARECHAIN_KEYSTORE)")
    .option("--force", "replace an existing keystore")
    .action(async (opts: { keystore?: string; force?: boolean }) => {
      const path = keystorePath(opts.keystore);
      const key = generatePrivateKey();
      await writeKeystoreFile(path, key, keystorePassword(), { force: opts.force ?? false });
      process.stdout.write(
        `${JSON.stringify({ address: privateKeyToAccount(key).address, keystore: path })}\n`,
      );
    });
  keys
    .command("import")
    .description("import a private key (read from stdin or CARECHAIN_PRIVATE_KEY) into a keystore")
    .option("--keystore <file>", "keystore file (env CARECHAIN_KEYSTORE)")
    .option("--force", "replace an existing keystore")
    .action(async (opts: { keystore?: string; force?: boolean }) => {
      const raw = (process.env.CARECHAIN_PRIVATE_KEY ?? (await readStdin())).trim();
      const parsed = privateKeySchema.safeParse(raw);
      if (!parsed.success)
        throw new BaseError("invalid", "private key must be a 0x-prefixed 32-byte hex string");
      const path = keystorePath(opts.keystore);
      await writeKeystoreFile(path, parsed.data as `0x${string}`, keystorePassword(), {
        force: opts.force ?? false,
      });
      process.stdout.write(
        `${JSON.stringify({ address: privateKeyToAccount(parsed.data as `0x${string}`).address, keystore: path })}\n`,
      );
    });
  keys
    .command("show")
    .description("print the address of the key in a keystore")
    .option("--keystore <file>", "keystore file (env CARECHAIN_KEYSTORE)")
    .action(async (opts: { keystore?: string }) => {
      const path = keystorePath(opts.keystore);
      if (!existsSync(path))
        throw new BaseError("not-found", `no keystore at ${path}; run carechain keys create`);
      const key = await readKeystoreFile(path, keystorePassword());
      process.stdout.write(
        `${JSON.stringify({ address: privateKeyToAccount(key).address, keystore: path })}\n`,
      );
    });
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
