import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import type { Hex } from "viem";
import type { Config } from "../config/config.js";
import { readKeystoreFile, writeKeystoreFile } from "../crypto/keystore.js";

export interface NodeKey {
  account: PrivateKeyAccount;
  privateKey: Hex;
  /** True when this start created the key. */
  created: boolean;
}

/**
 * Loads the node's signing key from its encrypted keystore, creating both on first run. Without
 * CARECHAIN_KEY_PASSWORD a random password is generated next to the data (mode 0600): convenient
 * for a laptop; production passes the password from a secret store.
 */
export async function loadOrCreateNodeKey(config: Config): Promise<NodeKey> {
  const password = config.keyPassword ?? localPassword(config);
  if (existsSync(config.keyFile)) {
    const privateKey = await readKeystoreFile(config.keyFile, password);
    return { account: privateKeyToAccount(privateKey), privateKey, created: false };
  }
  const privateKey = generatePrivateKey();
  await writeKeystoreFile(config.keyFile, privateKey, password);
  return { account: privateKeyToAccount(privateKey), privateKey, created: true };
}

function localPassword(config: Config): string {
  const path = join(dirname(config.keyFile), `${basename(config.keyFile)}.password`);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const password = randomBytes(24).toString("base64url");
  writeFileSync(path, `${password}\n`, { mode: 0o600, flag: "wx" });
  return password;
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}
