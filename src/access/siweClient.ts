/**
 * The client side of Sign-In with Ethereum (EIP-4361) against a carechain node: ask
 * `POST /auth/challenge` for a message, sign it, exchange message and signature at
 * `POST /auth/verify` for a session token. The one sign-in of the CLI, the demo, the bench and
 * the tests (the web app does the same from a browser wallet). https://eips.ethereum.org/EIPS/eip-4361
 */
import type { Hex, LocalAccount } from "viem";
import { z } from "zod";
import { errorOfAnswer } from "../errors/answerError.js";
import { BaseError } from "../errors/BaseError.js";

/** What signs the challenge: a viem account (a local key, or a wallet that signs EIP-191 messages). */
export type SiweSigner = Pick<LocalAccount, "address" | "signMessage">;

/** Which of the account's identities to sign in as, when it holds several (`as` of /auth/verify). */
export interface SignInAs {
  kind?: "patient" | "practitioner" | "node";
  /** bytes32 organization id, for a practitioner of several organizations. */
  organization?: Hex;
  role?: string;
}

export interface SiweSession {
  /** Bearer token for `authorization: Bearer <token>`. */
  token: string;
  expiresAt: Date;
}

export interface SiweSignInOptions {
  as?: SignInAs;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Per-request timeout (default 60 s). */
  timeoutMs?: number;
}

const challengeAnswer = z.object({ message: z.string().min(1) });
const verifyAnswer = z.object({ token: z.string().min(1), expiresAt: z.iso.datetime() });

/**
 * Signs in to the node at `baseUrl` as `signer`.
 * @param baseUrl - the node's API URL, without a trailing slash
 * @param signer - the account that signs the challenge message
 * @param options - identity to take, fetch, timeout
 * @returns the session token and when it expires
 * @throws BaseError("unavailable" | "timeout") when the node cannot be reached, or the kind of the
 *   node's HTTP status with its diagnostics when it refuses
 */
export async function siweSignIn(
  baseUrl: string,
  signer: SiweSigner,
  options: SiweSignInOptions = {},
): Promise<SiweSession> {
  const post = async (path: string, body: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await (options.fetch ?? fetch)(`${baseUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
      });
    } catch (cause) {
      const timedOut = (cause as { name?: string }).name === "TimeoutError";
      throw new BaseError(
        timedOut ? "timeout" : "unavailable",
        `${timedOut ? "no answer from" : "cannot reach"} the carechain node at ${baseUrl}`,
        { cause },
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw errorOfAnswer(res.status, parsed);
    return parsed;
  };
  const answer = <T>(schema: z.ZodType<T>, value: unknown, path: string): T => {
    const result = schema.safeParse(value);
    if (!result.success) throw new BaseError("unavailable", `unexpected answer from ${path}`);
    return result.data;
  };

  const { message } = answer(
    challengeAnswer,
    await post("/auth/challenge", { address: signer.address }),
    "/auth/challenge",
  );
  const signature = await signer.signMessage({ message });
  const as = options.as && Object.keys(options.as).length > 0 ? { as: options.as } : {};
  const session = answer(
    verifyAnswer,
    await post("/auth/verify", { message, signature, ...as }),
    "/auth/verify",
  );
  return { token: session.token, expiresAt: new Date(session.expiresAt) };
}
