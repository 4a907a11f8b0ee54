import { Option, type Command } from "commander";
import type { LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { siweSignIn } from "../access/siweClient.js";
import { readKeystoreFile } from "../crypto/keystore.js";
import { errorOfAnswer } from "../errors/answerError.js";
import { BaseError } from "../errors/BaseError.js";
import { keystorePassword, keystorePath } from "./keysCommand.js";
import { hexBytes } from "../model/schemas.js";

/** Where the CLI finds a node's API when `--node` and CARECHAIN_NODE are absent. */
export const DEFAULT_NODE_URL = "http://127.0.0.1:8080";

/** Options every user command (patient, practitioner) shares. */
export interface UserOptions {
  node?: string;
  keystore?: string;
  as?: string;
  asOrg?: string;
}

const nodeUrlSchema = z
  .string()
  .refine((v) => {
    try {
      return ["http:", "https:"].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, "must be an http(s) URL")
  .transform((v) => v.replace(/\/+$/, ""));

const selectorSchema = z.object({
  as: z.enum(["patient", "practitioner", "node"]).optional(),
  asOrg: hexBytes(32, "a 0x-prefixed 32-byte organization id").optional(),
});

/** Adds `--node`, `--keystore`, `--as`, `--as-org` to a user command. */
export function withUserOptions(command: Command): Command {
  return command
    .addOption(new Option("--node <url>", `node API URL (env CARECHAIN_NODE, default ${DEFAULT_NODE_URL})`))
    .addOption(
      new Option(
        "--keystore <file>",
        "your keystore (env CARECHAIN_KEYSTORE; password in CARECHAIN_PASSWORD)",
      ),
    )
    .addOption(
      new Option("--as <kind>", "sign in as patient, practitioner or node (when you hold several roles)"),
    )
    .addOption(
      new Option("--as-org <bytes32>", "the organization to sign in for (practitioners of several)"),
    );
}

/** The node URL: `--node`, CARECHAIN_NODE, or http://127.0.0.1:8080. */
export function nodeUrl(option: string | undefined): string {
  const raw = option ?? process.env.CARECHAIN_NODE ?? DEFAULT_NODE_URL;
  const parsed = nodeUrlSchema.safeParse(raw);
  if (!parsed.success) throw new BaseError("invalid", "--node must be an http(s) URL");
  return parsed.data;
}

/** The user's signing account, decrypted from their keystore (CARECHAIN_PASSWORD). */
export async function loadAccount(option: string | undefined): Promise<LocalAccount> {
  const path = keystorePath(option);
  const password = keystorePassword();
  return privateKeyToAccount(await readKeystoreFile(path, password));
}

export interface RequestOptions {
  body?: unknown;
  /** HL7 purpose of use, sent as `x-purpose-of-use`. */
  purpose?: string | undefined;
  headers?: Record<string, string>;
}

/**
 * A signed-in (or anonymous) connection to a node's HTTP API. Every non-2xx answer becomes a
 * BaseError carrying the server's OperationOutcome diagnostics and the kind of its status.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /**
   * Signs in with Sign-In with Ethereum (EIP-4361): challenge, sign, verify for a session token.
   * @param baseUrl - the node's API URL
   * @param account - the user's account
   * @param selector - which role to sign in as, when the account holds several
   * @returns a client sending the session token. https://eips.ethereum.org/EIPS/eip-4361
   */
  static async signIn(
    baseUrl: string,
    account: LocalAccount,
    selector: { as?: string | undefined; asOrg?: string | undefined } = {},
  ): Promise<ApiClient> {
    const parsed = selectorSchema.safeParse(selector);
    if (!parsed.success) {
      throw new BaseError(
        "invalid",
        `invalid sign-in option: ${parsed.error.issues[0]?.message ?? "bad value"}`,
      );
    }
    const { token } = await siweSignIn(baseUrl, account, {
      as: {
        ...(parsed.data.as ? { kind: parsed.data.as } : {}),
        ...(parsed.data.asOrg ? { organization: parsed.data.asOrg } : {}),
      },
    });
    return new ApiClient(baseUrl, token);
  }

  /**
   * Opens a Server-Sent Events stream and calls `onEvent` with each event's name and parsed data
   * until the node ends it.
   */
  async follow(path: string, onEvent: (event: string, data: unknown) => void): Promise<void> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      headers: {
        accept: "text/event-stream",
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
    }).catch((cause: unknown) => {
      throw new BaseError("unavailable", `cannot reach the carechain node at ${this.baseUrl}`, { cause });
    });
    if (!res.ok || res.body === null)
      throw errorOfAnswer(res.status, await res.json().catch(() => undefined));
    let buffer = "";
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data !== "") onEvent(event, JSON.parse(data) as unknown);
      }
    }
  }

  /** GET `path` and parse the JSON answer. */
  get<T = unknown>(path: string, purpose?: string): Promise<T> {
    return this.request<T>("GET", path, { purpose });
  }

  /**
   * Sends one request; JSON in, JSON out.
   * @throws BaseError("unavailable") when the node cannot be reached, or the kind of the HTTP
   *   status with the server's diagnostics
   */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json, application/fhir+json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.purpose) headers["x-purpose-of-use"] = options.purpose;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, options.headers);
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (cause) {
      const timedOut = (cause as { name?: string }).name === "TimeoutError";
      throw new BaseError(
        timedOut ? "timeout" : "unavailable",
        `${timedOut ? "no answer from" : "cannot reach"} the carechain node at ${this.baseUrl}`,
        { cause },
      );
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) throw errorOfAnswer(res.status, body);
    return body as T;
  }
}

/** Signs in with the command's user options (`--node`, `--keystore`, `--as`, `--as-org`). */
export async function signedInClient(opts: UserOptions): Promise<ApiClient> {
  const url = nodeUrl(opts.node);
  const account = await loadAccount(opts.keystore);
  return ApiClient.signIn(url, account, { as: opts.as, asOrg: opts.asOrg });
}

/** Prints one JSON document on stdout (the CLI's only output on success). */
export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`,
  );
}

/**
 * Validates a command's options with zod at the edge; a bad value is a one-line "invalid" error.
 * @returns the parsed options
 */
export function parseOptions<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = issue?.path.length
    ? `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
    : "option";
  throw new BaseError("invalid", `${name} ${issue?.message ?? "is invalid"}`);
}
