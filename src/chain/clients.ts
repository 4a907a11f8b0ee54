import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Chain,
  type HttpTransport,
  type LocalAccount,
  type PublicClient,
  type WalletClient,
} from "viem";
import { getBlock, getGasPrice } from "viem/actions";
import { BaseError } from "../errors/BaseError.js";
import { EMBEDDED_CHAIN_ID } from "./anvil.js";

export interface ChainClientOptions {
  /** Milliseconds before one JSON-RPC request gives up (default 10 s). */
  timeout?: number | undefined;
  /** Retries of a failed request, with exponential backoff (default 3). */
  retryCount?: number | undefined;
  /** Milliseconds between polls for new blocks and receipts (default 100 on the embedded chain, 1000 elsewhere). */
  pollingInterval?: number | undefined;
}

/** Read-only access to a ledger. */
export interface ChainReadClients {
  readonly chainId: number;
  readonly chain: Chain;
  readonly publicClient: PublicClient<HttpTransport, Chain>;
}

/** Read and write access to a ledger, writing as `account`. */
export interface ChainClients extends ChainReadClients {
  readonly account: LocalAccount;
  readonly walletClient: WalletClient<HttpTransport, Chain, LocalAccount>;
}

/**
 * Connects to an EVM JSON-RPC endpoint (the embedded anvil or a consortium network): asks it
 * for its chain id, then builds viem public (and, with an account, wallet) clients for that chain.
 * @param rpcUrl - JSON-RPC URL over HTTP(S).
 * @param account - Local signer for transactions; omit for read-only clients.
 * @param options - Timeouts, retries and polling.
 * @returns The clients and the chain they are bound to.
 */
export async function createChainClients(
  rpcUrl: string,
  account: LocalAccount,
  options?: ChainClientOptions,
): Promise<ChainClients>;
export async function createChainClients(
  rpcUrl: string,
  account?: undefined,
  options?: ChainClientOptions,
): Promise<ChainReadClients>;
export async function createChainClients(
  rpcUrl: string,
  account?: LocalAccount,
  options?: ChainClientOptions,
): Promise<ChainReadClients | ChainClients>;
export async function createChainClients(
  rpcUrl: string,
  account?: LocalAccount,
  options: ChainClientOptions = {},
): Promise<ChainReadClients | ChainClients> {
  const transport = http(rpcUrl, {
    timeout: options.timeout ?? 10_000,
    retryCount: options.retryCount ?? 3,
    retryDelay: 150,
  });
  let chainId: number;
  try {
    chainId = await createPublicClient({ transport }).getChainId();
  } catch (cause) {
    throw new BaseError("unavailable", "the ledger JSON-RPC endpoint did not answer", {
      details: `eth_chainId failed at ${redact(rpcUrl)}`,
      cause,
    });
  }
  const chain = chainFor(chainId, rpcUrl);
  const pollingInterval = options.pollingInterval ?? (chainId === EMBEDDED_CHAIN_ID ? 100 : 1000);
  const publicClient = createPublicClient({ chain, transport, pollingInterval });
  if (account === undefined) return { chainId, chain, publicClient };
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval });
  return { chainId, chain, publicClient, account, walletClient };
}

function chainFor(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === EMBEDDED_CHAIN_ID ? "carechain embedded ledger" : `carechain ledger ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    // Fees are set before viem asks the node to fill the transaction: anvil's eth_fillTransaction
    // (and eth_maxPriorityFeePerGas) answer a 1 gwei tip even with --gas-price 0, above the zero fee
    // cap, so the transaction is rejected. The tip the node itself implies (eth_gasPrice - baseFee)
    // is 0 on zero-gas networks (anvil, Besu with min-gas-price=0): accounts without balance transact.
    prepareTransactionRequest: [withNodeFees, { runAt: ["beforeFillTransaction"] }],
  });
}

type PrepareHook = NonNullable<Extract<Chain["prepareTransactionRequest"], readonly unknown[]>[0]>;

/** Fills EIP-1559 fees from the node's gas price unless the request already names fees. */
const withNodeFees: PrepareHook = async (request, { client }) => {
  const fields: {
    type?: unknown;
    gasPrice?: unknown;
    maxFeePerGas?: unknown;
    maxPriorityFeePerGas?: unknown;
  } = request;
  if (fields.type === "legacy" || fields.type === "eip2930") return request;
  if (
    fields.gasPrice !== undefined ||
    fields.maxFeePerGas !== undefined ||
    fields.maxPriorityFeePerGas !== undefined
  ) {
    return request;
  }
  const [block, gasPrice] = await Promise.all([getBlock(client), getGasPrice(client)]);
  const baseFee = block.baseFeePerGas;
  if (baseFee === null) return request; // no EIP-1559 on this network: viem prices it as legacy
  const tip = gasPrice > baseFee ? gasPrice - baseFee : 0n;
  return { ...request, maxPriorityFeePerGas: tip, maxFeePerGas: baseFee * 2n + tip } as typeof request;
};

/** The URL without credentials, path or query (API keys often hide there). */
function redact(rpcUrl: string): string {
  try {
    const url = new URL(rpcUrl);
    return `${url.protocol}//${url.host}`;
  } catch {
    return "(unparsable URL)";
  }
}
