/**
 * The app's one way to call the node: JSON in and out, the session token, the purpose of use,
 * errors in words people understand, and session expiry handled by asking the person to sign in
 * again (the page keeps its state; the request is retried once signed in).
 */

/** An answer the app can show as is: a short sentence, never a stack or a raw status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The node's own diagnostics (OperationOutcome), which never carry personal data. */
    readonly details?: string,
    /** Which input the node refused (the OperationOutcome issue's expression), e.g. `budget`. */
    readonly expression?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface RequestOptions {
  /** HL7 purpose of use (x-purpose-of-use), for practitioners. */
  purpose?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface Api {
  get<T>(path: string, options?: RequestOptions): Promise<T>;
  send<T>(
    method: "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<T>;
  /** Reads a Server-Sent Events stream with the session token (EventSource cannot send one). */
  stream(
    path: string,
    onEvent: (event: { id?: string; event?: string; data: string }) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

export interface ApiSession {
  /** The current session token, if signed in. */
  token(): string | undefined;
  /** Called on a 401: resolves once the person has signed in again, rejects when they gave up. */
  reauthenticate(): Promise<void>;
}

/** Words for an answer's status. */
export function plainWords(status: number): string {
  if (status === 401) return "Your sign-in has ended. Sign in again to continue.";
  if (status === 403) return "You are not allowed to do this.";
  if (status === 404) return "This was not found, or you may not see it.";
  if (status === 409)
    return "This conflicts with something that already happened (it may have been done already).";
  if (status === 410) return "This has been erased.";
  if (status === 412) return "This changed since you loaded it. Reload and try again.";
  if (status === 413) return "This is too large to send.";
  if (status === 429) return "Too many requests at once. Wait a moment and try again.";
  if (status === 503) return "The node or the ledger is not available right now. Try again in a moment.";
  if (status === 504) return "The node did not answer in time. Try again in a moment.";
  if (status >= 500) return "The node had a problem. Try again; if it persists, tell its operator.";
  if (status >= 400) return "The node did not accept this request.";
  return "Something unexpected happened.";
}

/** A message for any thrown value, for people. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.details ? `${error.message} (${error.details})` : error.message;
  if (error instanceof Error && error.name === "AbortError") return "Cancelled.";
  if (error instanceof Error && /user rejected|denied/i.test(error.message))
    return "You declined the request in your wallet.";
  return error instanceof Error ? error.message : "Something unexpected happened.";
}

async function errorOf(res: Response): Promise<ApiError> {
  let details: string | undefined;
  let expression: string | undefined;
  try {
    const body = (await res.json()) as {
      issue?: Array<{ diagnostics?: string; details?: { text?: string }; expression?: string[] }>;
    };
    const issue = body.issue?.[0];
    details = issue?.diagnostics ?? issue?.details?.text;
    expression = issue?.expression?.[0];
  } catch {
    details = undefined;
  }
  return new ApiError(plainWords(res.status), res.status, details, expression);
}

export function createApi(session: ApiSession): Api {
  const call = async (
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions = {},
    retried = false,
  ): Promise<Response> => {
    const token = session.token();
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
          ...(options.purpose !== undefined ? { "x-purpose-of-use": options.purpose } : {}),
          ...options.headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    } catch (cause) {
      if ((cause as Error).name === "AbortError") throw cause;
      throw new ApiError("Cannot reach the carechain node. Check your connection and try again.", 0);
    }
    if (res.status === 401 && token !== undefined && !retried) {
      await session.reauthenticate();
      return call(method, path, body, options, true);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  };
  const json = async <T>(res: Response): Promise<T> => {
    const text = await res.text();
    return (text === "" ? undefined : JSON.parse(text)) as T;
  };
  return {
    get: async (path, options) => json(await call("GET", path, undefined, options)),
    send: async (method, path, body, options) => json(await call(method, path, body, options)),
    stream: async (path, onEvent, signal) => {
      const res = await call("GET", path, undefined, { signal, headers: { accept: "text/event-stream" } });
      const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
      if (!reader) return;
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event: { id?: string; event?: string; data: string } = { data: "" };
          for (const line of block.split("\n")) {
            const colon = line.indexOf(":");
            if (colon === 0) continue;
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "data") event.data += event.data === "" ? value : `\n${value}`;
            else if (field === "id") event.id = value;
            else if (field === "event") event.event = value;
          }
          if (event.data !== "") onEvent(event);
        }
      }
    },
  };
}

/** What `/app/config` says: the node, its organization, and the ledger the browser verifies against. */
export interface PublicConfig {
  organization: { id: string; name: string };
  node: `0x${string}`;
  chainId: number;
  chainRpcUrl: string;
  contracts: Record<string, `0x${string}`>;
  demo: boolean;
}

let config: Promise<PublicConfig> | undefined;
export function publicConfig(): Promise<PublicConfig> {
  config ??= fetch("/app/config").then(async (res) => {
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as PublicConfig;
  });
  config.catch(() => (config = undefined));
  return config;
}
