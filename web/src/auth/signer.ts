/**
 * Who signs: a key held in this browser (viem local account) or an injected EIP-1193 wallet. Both
 * sign the SIWE message (EIP-191) and consents (EIP-712) the same way.
 */
import type { Address, Hex, SignableMessage, TypedDataDefinition } from "viem";

export interface Signer {
  address: Address;
  /** Where the key is: this browser (unlocked), a browser wallet, or a demo identity. */
  source: "browser-key" | "wallet" | "demo";
  signMessage(args: { message: SignableMessage }): Promise<Hex>;
  signTypedData(args: TypedDataDefinition): Promise<Hex>;
  /** The private key, for a key held in this browser (export as a keystore file). */
  privateKey?: Hex;
}

export async function localSigner(privateKey: Hex, source: "browser-key" | "demo"): Promise<Signer> {
  const { privateKeyToAccount } = await import("viem/accounts");
  const account = privateKeyToAccount(privateKey);
  return {
    address: account.address,
    source,
    privateKey,
    signMessage: ({ message }) => account.signMessage({ message }),
    signTypedData: (args) => account.signTypedData(args),
  };
}

interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

/** The injected wallet (window.ethereum), if any. */
export function injectedWallet(): Eip1193 | undefined {
  return (window as unknown as { ethereum?: Eip1193 }).ethereum;
}

export async function walletSigner(): Promise<Signer> {
  const provider = injectedWallet();
  if (!provider) throw new Error("No browser wallet found.");
  const { createWalletClient, custom } = await import("viem");
  const client = createWalletClient({ transport: custom(provider) });
  const [address] = await client.requestAddresses();
  if (!address) throw new Error("The wallet shared no account.");
  return {
    address,
    source: "wallet",
    signMessage: ({ message }) => client.signMessage({ account: address, message }),
    signTypedData: (args) =>
      client.signTypedData({ ...args, account: address } as Parameters<typeof client.signTypedData>[0]),
  };
}
